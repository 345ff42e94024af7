"""SciPy's Schur square root of a batch, run on the thread pool.

``scipy.linalg.sqrtm`` (SciPy >= 1.16) loops over a batch in C and holds the
GIL throughout, and LAPACK gains nothing from a second BLAS thread at these
sizes, so a 2-core machine runs it on one core.  Its Schur decompositions
are most of its time (measured on this project's 2-core AMD EPYC: 17.5 of
20.4 ms at 16 x 64 x 64 float64).  Here each worker of the thread pool of
:mod:`matsqrt._chunks` takes a share of the batch, one BLAS thread each, and
per matrix

1. ``A = Q T Q^H`` by LAPACK ``?gees``, called through ``ctypes`` (which
   releases the GIL) from SciPy's public ``scipy.linalg.cython_lapack``
   table;
2. ``T^(1/2)`` by Deadman, Higham and Ralha's recursion (the algorithm SciPy
   uses): diagonal blocks of at most :data:`LEAF` rows by SciPy itself (its
   root of a matrix already in Schur form skips the decomposition), the
   blocks above them by LAPACK ``?trsyl``, again through ``ctypes``
   (:func:`triangular_sqrt`);
3. ``X = Q T^(1/2) Q^H``.

Same algorithm and arithmetic as SciPy; roots agree with SciPy's to 2e-16
relative (random real and complex matrices, n up to 40, float64).  Real
matrices with a negative eigenvalue (complex roots) and any matrix whose
``?trsyl`` reports close eigenvalues go to ``scipy.linalg.sqrtm`` after the
pool; so does the whole batch where a decomposition fails (``info != 0``).

SciPy 1.16-1.17 roots real input that is already in Schur form, with a
2 x 2 block and a negative eigenvalue, wrongly (the result does not square
back; :func:`_schur_form_with_negative_eigenvalue`); :func:`scipy_sqrtm`
gives SciPy such matrices as complex ones.

Used for NumPy batches of at least two matrices of ``n >= MIN_N`` with more
than one thread (:func:`matsqrt._chunks.threads`), from the main thread;
otherwise :func:`scipy_sqrtm` runs the batch as it is.
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["schur_sqrtm", "schur_solve", "SchurRoots", "scipy_sqrtm", "triangular_sqrt", "MIN_N", "LEAF"]

# Diagonal blocks of at most this size are rooted by SciPy in triangular_sqrt.
LEAF = 48

# From this n on the triangular roots are computed in the pool (triangular_sqrt, whose ?trsyl calls release
# the GIL); below it SciPy roots the stack of T in one call after the pool: measured at 16 x 64 x 64, the
# recursion took 4.1 ms serial and 4.7 ms on two threads (its SciPy leaves hold the GIL), SciPy's batch 2.7 ms.
POOL_TRIANGULAR_MIN_N = 2 * LEAF + 1

# Below this n the per-matrix cost of a ctypes call is no longer small against a decomposition.
MIN_N = 24

_INT = ctypes.POINTER(ctypes.c_int)
_CHAR = ctypes.c_char_p


def _lapack(name: str, args: list[Any]) -> Any:
    """LAPACK ``name`` from SciPy's cython_lapack table, as a ctypes function (which releases the GIL)."""
    import scipy.linalg.cython_lapack as lapack

    capsule = lapack.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer = ctypes.pythonapi.PyCapsule_GetPointer
    pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.CFUNCTYPE(None, *args)(pointer(capsule, get_name(capsule)))


_P = ctypes.c_void_p  # every array argument as a raw address


@functools.cache
def _gees(char: str) -> Any:
    """LAPACK ``?gees`` (``char`` one of 'sdcz')."""
    if char in "sd":  # jobvs sort select n a lda sdim wr wi vs ldvs work lwork bwork info
        return _lapack(f"{char}gees", [_CHAR, _CHAR, _P, _INT, _P, _INT, _INT, _P, _P, _P, _INT, _P, _INT, _P, _INT])
    # jobvs sort select n a lda sdim w vs ldvs work lwork rwork bwork info
    return _lapack(f"{char}gees", [_CHAR, _CHAR, _P, _INT, _P, _INT, _INT, _P, _P, _INT, _P, _INT, _P, _P, _INT])


@functools.cache
def _trsyl(char: str) -> Any:
    """LAPACK ``?trsyl``: trana tranb isgn m n a lda b ldb c ldc scale info."""
    return _lapack(f"{char}trsyl", [_CHAR, _CHAR, _INT, _INT, _INT, _P, _INT, _P, _INT, _P, _INT, _P, _INT])


def _ptr(x: np.ndarray) -> int:
    return x.ctypes.data


class _Workspace(threading.local):
    """Per thread: the LAPACK work arrays for one (dtype, n)."""

    key: tuple[str, int] | None = None


_workspace = _Workspace()


def _decompose(a: np.ndarray, char: str, t: np.ndarray, q: np.ndarray, negative: np.ndarray) -> bool:
    """Schur factors of every matrix of ``a`` (C order) into ``t`` and ``q`` (C order), and for real input
    whether it has a negative real eigenvalue into ``negative``; False if a decomposition failed."""
    n = a.shape[-1]
    dtype = a.dtype
    gees = _gees(char)
    ws = _workspace
    c_n, lda, sdim, info = ctypes.c_int(n), ctypes.c_int(n), ctypes.c_int(0), ctypes.c_int(0)
    if ws.key != (dtype.str, n):
        # Workspace query (lwork = -1), once per thread, dtype and n.
        probe = np.zeros((n, n), dtype=dtype, order="F")
        vs = np.zeros((n, n), dtype=dtype, order="F")
        work = np.zeros(1, dtype=dtype)
        w = np.zeros(2 * n, dtype=dtype)
        rwork = np.zeros(max(n, 1), dtype=np.float32 if char == "c" else np.float64)
        bwork = np.zeros(max(n, 1), dtype=np.intc)
        lwork = ctypes.c_int(-1)
        _call(gees, char, c_n, probe, lda, sdim, w, vs, work, lwork, rwork, bwork, info)
        ws.lwork = max(int(work[0].real), 3 * n, 1)
        ws.work = np.zeros(ws.lwork, dtype=dtype)
        ws.w, ws.rwork, ws.bwork = w, rwork, bwork
        ws.key = (dtype.str, n)
    lwork = ctypes.c_int(ws.lwork)
    for i in range(a.shape[0]):
        m = np.array(a[i], order="F")  # (a copy always: ?gees overwrites it, and a[i] may be the caller's)
        vs = np.empty((n, n), dtype=dtype, order="F")
        _call(gees, char, c_n, m, lda, sdim, ws.w, vs, ws.work, lwork, ws.rwork, ws.bwork, info)
        if info.value != 0:
            return False
        t[i] = m
        q[i] = vs
        if char in "sd":  # a real negative eigenvalue (wi == 0, wr < 0), as SciPy tests it
            negative[i] = bool(np.any((ws.w[n:2 * n] == 0) & (ws.w[:n] < 0)))
    return True


def triangular_sqrt(t: np.ndarray, char: str) -> np.ndarray | None:
    """The principal square root of one upper (quasi-)triangular ``t`` in Schur canonical form, or None.

    Deadman, Higham and Ralha's recursion (2013): split ``T`` into
    ``[[T11, T12], [0, T22]]`` (never inside a 2 x 2 block), root the diagonal
    blocks, and solve ``R11 X + X R22 = T12`` by LAPACK ``?trsyl``, which wants
    quasi-triangular coefficients in Schur canonical form; the roots of
    ``?gees``'s standardised blocks are in that form again.  Diagonal blocks
    of at most :data:`LEAF` rows are rooted by SciPy, which takes a matrix in
    Schur form without a decomposition.  None (the caller then uses SciPy on
    the whole matrix) for a real ``T`` with a negative or zero diagonal
    1 x 1 entry, and wherever ``?trsyl`` reports close eigenvalues of ``R11``
    and ``-R22``.  Each ``?trsyl`` call releases the GIL.
    """
    import scipy.linalg

    n = t.shape[-1]
    real = char in "sd"
    r = np.array(t, order="F")
    sub = np.zeros(n + 1, dtype=bool)  # sub[i]: a 2 x 2 block at rows i-1, i
    if real and n > 1:
        sub[1:n] = np.diagonal(t, -1) != 0
    trsyl = _trsyl(char)
    itemsize = r.itemsize
    base = _ptr(r)
    ld = ctypes.c_int(n)
    one = ctypes.c_int(1)
    scale = np.ones(1, dtype=np.float32 if char in "sc" else np.float64)
    info = ctypes.c_int(0)
    ref = ctypes.byref

    def scipy_leaf(lo: int, hi: int) -> bool:
        # A diagonal block of T is in Schur form, which SciPy roots without a decomposition (GIL held, briefly).
        block = r[lo:hi, lo:hi]
        if real and np.any(~(np.diagonal(block) > 0) & ~sub[lo:hi] & ~sub[lo + 1:hi + 1]):
            return False  # a 1 x 1 block at or below zero: a real root does not exist or is not SciPy's
        rooted = scipy.linalg.sqrtm(block)
        if rooted.dtype != r.dtype:
            return False
        block[...] = rooted
        return True

    def root(lo: int, hi: int) -> bool:
        m = hi - lo
        if m <= LEAF:
            return scipy_leaf(lo, hi)
        mid = lo + m // 2
        if sub[mid]:
            mid += 1
        if not (root(lo, mid) and root(mid, hi)):
            return False
        m1, m2 = ctypes.c_int(mid - lo), ctypes.c_int(hi - mid)
        trsyl(b"N", b"N", ref(one), ref(m1), ref(m2), base + (lo + lo * n) * itemsize, ref(ld),
              base + (mid + mid * n) * itemsize, ref(ld), base + (lo + mid * n) * itemsize, ref(ld),
              _ptr(scale), ref(info))
        if info.value != 0:
            return False
        if scale[0] != 1.0:
            r[lo:mid, mid:hi] /= scale[0]
        return True

    return r if root(0, n) else None


def _call(gees: Any, char: str, n: Any, a: np.ndarray, lda: Any, sdim: Any, w: np.ndarray, vs: np.ndarray,
          work: np.ndarray, lwork: Any, rwork: np.ndarray, bwork: np.ndarray, info: Any) -> None:
    ref = ctypes.byref
    if char in "sd":
        gees(b"V", b"N", None, ref(n), _ptr(a), ref(lda), ref(sdim), _ptr(w), _ptr(w) + w.itemsize * n.value, _ptr(vs),
             ref(n), _ptr(work), ref(lwork), _ptr(bwork), ref(info))
    else:
        gees(b"V", b"N", None, ref(n), _ptr(a), ref(lda), ref(sdim), _ptr(w), _ptr(vs), ref(n), _ptr(work),
             ref(lwork), _ptr(rwork), _ptr(bwork), ref(info))


def _schur_form_with_negative_eigenvalue(a: np.ndarray) -> np.ndarray:
    """Per matrix of a real stack: already in real Schur form (quasi-upper triangular) with a 2 x 2 block and a
    real negative eigenvalue (to within ``sqrt(eps)`` in angle), the input ``scipy.linalg.sqrtm`` gets wrong.

    SciPy 1.16-1.17 skips the Schur decomposition of input already in that
    form, and its switch to complex arithmetic for a negative eigenvalue
    then returns a matrix that does not square back (measured: 309 of 458
    such random 2-8 x 2-8 matrices off by 1e-8 to 1.6 relative; none among
    upper triangular, complex, or eigenvalue-positive ones).
    """
    n = a.shape[-1]
    flags = np.zeros(a.shape[:-2], dtype=bool)
    if np.iscomplexobj(a) or n < 2:
        return flags
    sub = np.diagonal(a, -1, axis1=-2, axis2=-1) != 0
    quasi = np.all(np.tril(a, -2) == 0, axis=(-2, -1)) & ~np.any(sub[..., :-1] & sub[..., 1:], axis=-1)
    candidates = quasi & np.any(sub, axis=-1)
    if np.any(candidates):
        w = np.linalg.eigvals(a[candidates].astype(np.float64))
        on_axis = np.abs(w.imag) <= math.sqrt(float(np.finfo(a.dtype).eps)) * np.abs(w)
        flags[candidates] = np.any(on_axis & (w.real < 0), axis=-1)
    return flags


def scipy_sqrtm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm(a)``, with the matrices it gets wrong (:func:`_schur_form_with_negative_eigenvalue`)
    given to it as complex matrices (its complex path decomposes them afresh and is right)."""
    import scipy.linalg

    flags = _schur_form_with_negative_eigenvalue(a)
    if not np.any(flags):
        return scipy.linalg.sqrtm(a)
    complex_type = np.complex64 if a.dtype == np.float32 else np.complex128
    y = scipy.linalg.sqrtm(a[~flags]).astype(complex_type) if not np.all(flags) else None
    out = np.empty(a.shape, dtype=complex_type)
    out[flags] = scipy.linalg.sqrtm(a[flags].astype(complex_type))
    if y is not None:
        out[~flags] = y
    return out


_CHARS = {np.dtype(np.float32): "s", np.dtype(np.float64): "d", np.dtype(np.complex64): "c",
          np.dtype(np.complex128): "z"}


@dataclass
class SchurRoots:
    """What :func:`schur_sqrtm` computed: the roots, the caller's ``extra``, and where every matrix went
    through the pool, its Schur vectors ``q`` and triangular roots ``r`` (``Y = Q R Q^H``), for
    :func:`schur_solve`."""

    y: np.ndarray
    extra: Any = None
    q: np.ndarray | None = None
    r: np.ndarray | None = None


@functools.cache
def _lapack_reachable(char: str) -> bool:
    """Whether ``?gees`` and ``?trsyl`` load from SciPy's cython_lapack table (a SciPy without them, or a
    Python without ctypes' capsule access, runs ``scipy.linalg.sqrtm`` as it is)."""
    try:
        _gees(char)
        _trsyl(char)
    except Exception:  # noqa: BLE001 - any failure to load means: not this way
        return False
    return True


def _parallel(flat: np.ndarray) -> tuple[str | None, int]:
    from ._chunks import threads

    n, batch = flat.shape[-1], flat.shape[0]
    workers = min(threads(), batch)
    char = _CHARS.get(flat.dtype)
    if (char is None or n < MIN_N or workers < 2 or threading.current_thread() is not threading.main_thread()
            or not _lapack_reachable(char)):
        return None, 1
    return char, workers


def schur_sqrtm(a: np.ndarray, *, extra: Any = None) -> SchurRoots:
    """``scipy.linalg.sqrtm(a)`` and ``extra(a)`` for a NumPy batch, on the thread pool.

    ``extra``: a function of a slice of the flattened batch (returning an
    array over it), run in the same threads after the decompositions (the
    caller's singularity test); ``None`` in its place where the batch ran in
    SciPy as it is (the caller then computes it itself, in SciPy's BLAS).
    """
    from ._chunks import _even_slices, _pool, one_blas_thread

    shape = a.shape
    n = shape[-1]
    flat = a.reshape(-1, n, n)
    batch = flat.shape[0]
    char, workers = _parallel(flat)
    if char is None:
        return SchurRoots(scipy_sqrtm(a))
    t = np.empty_like(flat)
    q = np.empty_like(flat)
    negative = np.zeros(batch, dtype=bool)
    y = np.empty_like(flat)
    pending = np.zeros(batch, dtype=bool)
    slices = _even_slices(batch, workers)

    in_pool = n >= POOL_TRIANGULAR_MIN_N
    if not in_pool:
        pending[...] = True

    def work(part: slice) -> tuple[bool, Any]:
        if not _decompose(flat[part], char, t[part], q[part], negative[part]):
            return False, None
        for i in range(part.start, part.stop):
            if not in_pool:
                break
            r = None if negative[i] else triangular_sqrt(t[i], char)
            if r is None:  # a real matrix with a negative eigenvalue (complex root), or trsyl's doubts: SciPy
                pending[i] = True
            else:
                np.matmul(q[i] @ r, np.conj(q[i].T) if char in "cz" else q[i].T, out=y[i])
                t[i] = r  # (T is done with: its root takes its place)
        return True, (None if extra is None else extra(flat[part]))

    # Everything with one BLAS thread: SciPy's pool and NumPy's, both awake and spinning on two cores after
    # their calls, made the back-transformation 7 ms one time and 110 ms the next (4 x 256 x 256).
    with one_blas_thread(scipy=True):
        results = list(_pool(workers).map(work, slices))
        if not all(r[0] for r in results):
            return SchurRoots(scipy_sqrtm(a))
        more = None if extra is None else np.concatenate([r[1] for r in results]).reshape(shape[:-2])
        if not np.any(pending):
            return SchurRoots(y.reshape(shape), more, q, t)
        # The rest in SciPy, in one batched call.  A real matrix with a negative eigenvalue has a complex root:
        # its real Schur form becomes a complex one (scipy.linalg.rsf2csf, as SciPy does inside sqrtm), whose
        # triangular root SciPy takes without a decomposition.  (Given the real Schur form itself, SciPy
        # 1.16-1.17 gets such matrices wrong: see scipy_sqrtm.  After the conversion none is left.)
        import scipy.linalg

        tp, qp = t[pending], q[pending]
        if char in "sd" and np.any(negative[pending]):
            ctype = np.complex64 if char == "s" else np.complex128
            pairs = [scipy.linalg.rsf2csf(tp[k], qp[k]) for k in range(tp.shape[0])]
            tp = np.stack([np.triu(tc) for tc, _ in pairs]).astype(ctype, copy=False)
            qp = np.stack([qc for _, qc in pairs]).astype(ctype, copy=False)
        root = scipy.linalg.sqrtm(tp)
        factors = root.dtype == t.dtype
        qp = qp.astype(root.dtype, copy=False)
        done = qp @ root @ np.conj(np.swapaxes(qp, -1, -2))
        if done.dtype != y.dtype:
            y = y.astype(done.dtype)
        y[pending] = done
        if factors:
            t[pending] = root
    return SchurRoots(y.reshape(shape[:-2] + y.shape[-2:]), more, q if factors else None, t if factors else None)


def schur_solve(roots: SchurRoots, g: np.ndarray) -> np.ndarray | None:
    """``X`` with ``Y^H X + X Y^H = G`` per matrix, by Bartels and Stewart's method on the forward's Schur
    factors (``Y^H = Q R^H Q^H``: ``R^H X~ + X~ R^H = Q^H G Q`` by LAPACK ``?trsyl``, ``X = Q X~ Q^H``), on
    the thread pool; None where the factors are missing or ``?trsyl`` reports close eigenvalues.

    ``R`` has its spectrum in the open right half-plane, so the equation is
    nonsingular; ``?trsyl`` is backward stable for it.
    """
    from ._chunks import _even_slices, _pool, one_blas_thread

    if roots.q is None or roots.r is None:
        return None
    q, r = roots.q, roots.r
    if np.iscomplexobj(g) and not np.iscomplexobj(q):
        return None  # (a complex cotangent of a real root: the iteration takes it)
    n = q.shape[-1]
    flat_g = np.ascontiguousarray(g.reshape(-1, n, n).astype(q.dtype, copy=False))
    char, workers = _parallel(q)
    if char is None:
        return None
    trsyl = _trsyl(char)
    trans = b"C" if char in "cz" else b"T"
    x = np.empty_like(flat_g)
    failed = np.zeros(q.shape[0], dtype=bool)

    def work(part: slice) -> None:
        ld, one, info = ctypes.c_int(n), ctypes.c_int(1), ctypes.c_int(0)
        scale = np.ones(1, dtype=np.float32 if char in "sc" else np.float64)
        ref = ctypes.byref
        for i in range(part.start, part.stop):
            qi = q[i]
            qh = np.conj(qi.T) if char in "cz" else qi.T
            rf = np.asfortranarray(r[i])
            c = np.asfortranarray(qh @ flat_g[i] @ qi)
            trsyl(trans, trans, ref(one), ref(ld), ref(ld), _ptr(rf), ref(ld), _ptr(rf), ref(ld), _ptr(c), ref(ld),
                  _ptr(scale), ref(info))
            if info.value != 0:
                failed[i] = True
                continue
            np.matmul(qi @ (c / scale[0]), qh, out=x[i])

    with one_blas_thread(scipy=True):
        list(_pool(workers).map(work, _even_slices(q.shape[0], workers)))
    if np.any(failed):
        return None
    return x.reshape(g.shape[:-2] + (n, n))
