"""``python -m matsqrt.bench``: speed, memory, accuracy and cost of every method, next to its peers.

The sweep covers method x backend x dtype x (batch, n) x condition number x
operation, on the same random inputs of one family (``--family``) for every
implementation:

- ``spd`` (the default): real symmetric positive definite ``Q diag(lambda)
  Q^T``, ``Q`` Haar orthogonal, ``lambda`` log-spaced in [1/kappa, 1]
  (:func:`spd_batch`; float32, float64);
- ``general``: non-normal ``Q T Q^H`` with the spectrum in the right
  half-plane (:func:`general_batch`; float32, float64, complex64,
  complex128): ``T`` (block) upper triangular, its eigenvalue moduli
  log-spaced in [1/kappa, 1] with arguments uniform in [-pi/3, pi/3] (real
  input: conjugate pairs in 2 x 2 rotation blocks), above the diagonal
  ``z_ij sqrt(|t_ii t_jj|) / sqrt(n)`` with standard normal ``z_ij``, ``Q``
  Haar orthogonal (unitary); the methods defined for such input are
  ``auto``, ``db`` and ``schur``, the others refuse it (or verify and
  refuse, ``matmul``; ``ns`` verifies and may accept) and the row says
  ``refused: ...``; the peers ``eigh-dk``, ``torch-mpa-lya`` and
  ``torch-eigh`` are not run on it (refused rows too);
- ``hermitian``: complex Hermitian positive definite ``Q diag(lambda) Q^H``,
  ``Q`` Haar unitary (:func:`hermitian_batch`; complex64, complex128, the
  default dtypes of this family); the eigh peers use conjugate transposes,
  the PyTorch MPA-Lya (real input only) is refused.

Complex upstream gradients are complex Gaussian; complex gradients follow
PyTorch's convention (conjugate transposes: ``Y^H X + X Y^H = G``).

- every method in :data:`matsqrt.METHODS` with its defaults, and ``paper-mpa``
  (``method="mpa"``, degree 5, ``lyapunov_maxiter=8, lyapunov_tol=0``: the
  paper's settings); ``name:degree`` picks another degree;
- peers: ``eigh-dk`` (``xp.linalg.eigh`` and the Daleckii-Krein gradient, on
  the same backend), ``scipy`` (``scipy.linalg.sqrtm`` on the host, forward
  only) and, when PyTorch is importable, ``torch-mpa-lya`` (the paper's
  MPA-Lya written in PyTorch, forward plus ``.backward()``) and
  ``torch-eigh`` (what a PyTorch user writes: ``torch.linalg.eigh``, the root
  of the clamped eigenvalues, PyTorch's autograd; its gradient is compared
  with the Hermitian part of the reference, the gradient along Hermitian
  perturbations that ``eigh``'s autograd returns); PyTorch runs with NumPy's
  BLAS thread count, and each row is timed in its own block, with a pause
  where the library changes;
- operations ``fwd`` (``sqrtm``), ``fwdbwd`` (``sqrtm_vjp`` and one ``vjp``
  call), ``inv`` (``inv_sqrtm``) and ``invfwdbwd`` (``inv_sqrtm_vjp`` and one
  call).

Each row holds the median, min and max time over the repeats (after warm-up;
on a GPU the device is synchronised before and after each timed call), the
peak memory of a separate untimed call (host: ``tracemalloc``; CuPy: growth of
the memory pool; PyTorch on the GPU: ``torch.cuda.max_memory_allocated``), the
worst relative Frobenius error over the batch of the root against
``scipy.linalg.sqrtm`` of the float64 (complex128) input and of the gradient
against the Daleckii-Krein gradient in float64 (complex128; for the
``general`` family ``scipy.linalg.solve_sylvester`` of ``Y^H X + X Y^H = G``
per matrix, independent of matsqrt), the measured number of ``n x n x n``
products and of linear solves per matrix (see :mod:`matsqrt._counting`), the
time of each operation in that counted call (``op_seconds``; ``--breakdown``
prints the shares), and the ratio of the time to each peer's (above 1: slower
than the peer).  ``x gemm`` is the time over the GEMM floor: the measured
number of products times the time of one bare batched ``a @ b`` of the same
shape, issued back to back on the same backend; what lies above 1 is the
cost of everything that is not a matrix product (elementwise passes, solves,
allocations, host synchronisations, Python).

Examples
--------
``python -m matsqrt.bench --quick`` (well under a minute on two CPU cores);
``python -m matsqrt.bench --json notebooks/results/`` (the full default sweep,
saved as ``<device>-<date>.json`` in that folder);
``python -m matsqrt.bench --family general --dtypes float64 --methods auto,db --peers scipy``
(the general path against SciPy).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime
import gc
import importlib
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.linalg

import matsqrt

from . import _peers
from ._counting import CountingArray, OpCount, count_numpy_ops, count_torch_ops
from .lyapunov import check_every

__all__ = ["main", "run", "run_sweep", "format_table", "Settings", "OPS", "PEERS"]

SCHEMA = "matsqrt.bench/1"
OPS = ("fwd", "fwdbwd", "inv", "invfwdbwd")
# Peer option name -> the name its rows carry.
PEERS = {"eigh": "eigh-dk", "scipy": "scipy", "torch": "torch-mpa-lya", "torch-eigh": "torch-eigh"}
# The peers that run in PyTorch (its thread count is set to NumPy's).
TORCH_PEERS = ("torch", "torch-eigh")
PAPER_MPA = "paper-mpa"
# matmul with the fixed, sync-free schedule (Matmul(sync_free=True)).
SYNC_FREE = "matmul-sync-free"
# Input families (--family) and the dtypes each is run in.
FAMILIES = {"spd": ("float32", "float64"), "general": ("float32", "float64", "complex64", "complex128"),
            "hermitian": ("complex64", "complex128")}
# The matsqrt methods defined for general (non-Hermitian) input; the others refuse it.
GENERAL_METHODS = ("auto", "db", "schur")
_COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}

_FULL = dict(methods="all", dtypes="float32,float64", shapes="256x64,16x256", kappas="1e1,1e3", ops="fwd,fwdbwd",
             repeats=10, warmup=2)
# The quick sweep keeps the headline comparison (256 x 64 x 64 float32, both
# operations) and one larger n, at one condition number, for the default
# method, the accurate products-only method and the paper's settings.
_QUICK = dict(methods="auto,matmul,paper-mpa", dtypes="float32", shapes="256x64,8x192", kappas="1e1",
              ops="fwd,fwdbwd", repeats=5, warmup=1)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What one sweep runs; built from the command line by :func:`parse_args`."""

    methods: tuple[str, ...]
    peers: tuple[str, ...]
    dtypes: tuple[str, ...]
    shapes: tuple[tuple[int, int], ...]
    kappas: tuple[float, ...]
    ops: tuple[str, ...]
    backends: tuple[str, ...]
    repeats: int = 10
    warmup: int = 2
    max_seconds: float = 5.0
    threads: int | None = None
    seed: int = 0
    progress: bool = True
    wait_idle: float = 0.0
    busy: float = 0.1
    retries: int = 0
    family: str = "spd"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_shape(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"shape {text!r} is not BATCHxN, e.g. 256x64")
    return int(match[1]), int(match[2])


def _method_names(text: str) -> tuple[str, ...]:
    """``--methods`` as names; ``all`` stands for every method of matsqrt.METHODS, paper-mpa and
    matmul-sync-free."""
    everything = (*matsqrt.METHODS, PAPER_MPA, SYNC_FREE)
    names: list[str] = []
    for name in _split(text):
        if name == "all":
            names.extend(everything)
        elif name.split(":")[0] in everything:
            names.append(name)
        else:
            raise SystemExit(f"unknown method {name!r}; choose from {sorted(everything)} or all (NAME:DEGREE too)")
    return tuple(dict.fromkeys(names))


def _peer_names(text: str) -> tuple[str, ...]:
    """``--peers`` as option names; a row name (``eigh-dk``, ``torch-mpa-lya``) stands for its option."""
    if text == "none":
        return ()
    options = {row_name: option for option, row_name in PEERS.items()} | {option: option for option in PEERS}
    names = []
    for name in _split(text):
        if name not in options:
            raise SystemExit(f"unknown peer {name!r}; choose from {sorted(PEERS)} or 'none'")
        names.append(options[name])
    return tuple(dict.fromkeys(names))


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``python -m matsqrt.bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m matsqrt.bench",
        description="Time, memory, accuracy and product counts of matsqrt's methods against eigh, "
        "scipy.linalg.sqrtm, a PyTorch MPA-Lya and a PyTorch eigh root, on random SPD, general or complex "
        "Hermitian batches.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"a sweep of well under a minute on 2 CPU cores: {_QUICK}")
    parser.add_argument("--methods",
                        help="comma list from matsqrt.METHODS and 'paper-mpa', each optionally NAME:DEGREE, "
                        "or all (default: all; --quick: auto,matmul,paper-mpa)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma list of {', '.join(PEERS)}, or 'none' (default: all; the torch peers only if "
                        "PyTorch is importable)")
    parser.add_argument("--family", default="spd", choices=tuple(FAMILIES),
                        help="the inputs: spd (real symmetric positive definite, the default), general (real or "
                        "complex non-normal matrices with their spectrum in the right half-plane) or hermitian "
                        "(complex Hermitian positive definite); see the module docstring")
    parser.add_argument("--dtypes", help=f"comma list (default {_FULL['dtypes']}; --family hermitian: their complex "
                        "counterparts)")
    parser.add_argument("--shapes", help=f"comma list of BATCHxN (default {_FULL['shapes']})")
    parser.add_argument("--kappas", help=f"condition numbers (default {_FULL['kappas']})")
    parser.add_argument("--ops", help=f"comma list from {','.join(OPS)} (default {_FULL['ops']})")
    parser.add_argument("--backend", default="auto", choices=("auto", "numpy", "cupy", "all"),
                        help="auto: numpy, and cupy too when a GPU is present")
    parser.add_argument("--repeats", type=int, help="timed calls per row (default 10; fewer once --max-seconds is "
                        "spent, never fewer than 3)")
    parser.add_argument("--warmup", type=int, help="untimed calls before timing (default 2)")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="time budget of one row's timing loop")
    parser.add_argument("--threads", type=int,
                        help="BLAS/OpenMP threads for NumPy and PyTorch (default: NumPy's own count, which "
                        "PyTorch is then set to)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="on a shared machine: before timing a row, wait up to SECONDS for the CPU to be idle "
                        "(Linux pressure stall share below --busy)")
    parser.add_argument("--busy", type=float, default=0.1,
                        help="stall share (time some task waited for a CPU / wall time) above which a row's timing "
                        "counts as disturbed by other work and is marked '!' (default 0.1)")
    parser.add_argument("--retries", type=int, default=0,
                        help="re-time a disturbed row up to this many times, keeping the least disturbed attempt")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON (a folder: <device>-<date>.json)")
    parser.add_argument("--csv", metavar="PATH", help="write the rows as CSV")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print where each row's time goes (products, solves, the rest)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    """Command-line arguments to :class:`Settings` (``--quick`` fills unset axes)."""
    args = build_parser().parse_args(argv)
    preset = _QUICK if args.quick else _FULL
    value = {key: preset[key] if getattr(args, key) is None else getattr(args, key) for key in preset}
    ops = tuple(_split(value["ops"]))
    for op in ops:
        if op not in OPS:
            raise SystemExit(f"unknown op {op!r}; choose from {OPS}")
    family = args.family
    dtypes = tuple(_split(value["dtypes"]))
    if family == "hermitian" and args.dtypes is None:
        dtypes = tuple(_COMPLEX_OF[d] for d in dtypes)
    for dtype in dtypes:
        if dtype not in FAMILIES[family]:
            raise SystemExit(f"unsupported dtype {dtype!r} for --family {family}; choose from "
                             f"{', '.join(FAMILIES[family])}")
    backends = {"auto": ("numpy", "cupy?"), "all": ("numpy", "cupy"), "numpy": ("numpy",), "cupy": ("cupy",)}
    settings = Settings(
        methods=_method_names(value["methods"]),
        peers=_peer_names(args.peers),
        dtypes=dtypes,
        shapes=tuple(_parse_shape(s) for s in _split(value["shapes"])),
        kappas=tuple(float(k) for k in _split(value["kappas"])),
        ops=ops,
        backends=backends[args.backend],
        repeats=max(1, int(value["repeats"])),
        warmup=max(0, int(value["warmup"])),
        max_seconds=float(args.max_seconds),
        threads=args.threads,
        seed=int(args.seed),
        progress=not args.no_progress,
        wait_idle=max(0.0, float(args.wait_idle)),
        busy=float(args.busy),
        retries=max(0, int(args.retries)),
        family=family,
    )
    return settings, args


# --------------------------------------------------------------------------- backends


@dataclass
class Backend:
    """An array library the methods run on, with its synchronisation and memory probe."""

    name: str
    device: str
    xp: Any
    to_backend: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    synchronize: Callable[[], None]
    peak_memory: Callable[[Callable[[], Any]], tuple[Any, int | None]]
    memory_method: str


def _tracemalloc_peak(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """Peak of the Python/NumPy allocations ``fn`` makes, output included."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return out, int(peak)


def _numpy_backend() -> Backend:
    from array_api_compat import array_namespace

    return Backend(
        name="numpy",
        device="cpu",
        xp=array_namespace(np.empty(0)),
        to_backend=lambda a: a,
        to_numpy=np.asarray,
        synchronize=lambda: None,
        peak_memory=_tracemalloc_peak,
        memory_method="tracemalloc",
    )


def _cupy_backend(required: bool) -> Backend | None:
    """CuPy on device 0, or None (an error if ``required``) without CuPy or a GPU."""
    try:
        cupy = importlib.import_module("cupy")
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as exc:
        if required:
            raise SystemExit(f"--backend cupy: CuPy with a GPU is not available ({exc})") from None
        return None
    from array_api_compat import array_namespace

    pool = cupy.get_default_memory_pool()

    def synchronize() -> None:
        cupy.cuda.Device().synchronize()

    def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int | None]:
        # With the cache emptied, the pool grows to the largest amount held at
        # once during the call and keeps it: its growth is the high-water mark.
        synchronize()
        pool.free_all_blocks()
        base = pool.total_bytes()
        out = fn()
        synchronize()
        return out, int(pool.total_bytes() - base)

    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return Backend(
        name="cupy",
        device=f"gpu: {name}",
        xp=array_namespace(cupy.empty(0)),
        to_backend=cupy.asarray,
        to_numpy=cupy.asnumpy,
        synchronize=synchronize,
        peak_memory=peak_memory,
        memory_method="cupy memory pool",
    )


def _backends(names: Sequence[str]) -> list[Backend]:
    backends = []
    for name in names:
        if name == "numpy":
            backends.append(_numpy_backend())
        else:
            backend = _cupy_backend(required=not name.endswith("?"))
            if backend is not None:
                backends.append(backend)
    return backends


# --------------------------------------------------------------------------- implementations

Outputs = tuple[Any, Any, dict[str, Any]]


class Impl:
    """One implementation under test: builds the timed call for an operation."""

    name: str
    kind: str
    count_source: str | None = "numpy"
    domain = "any"  # the input the implementation is defined for, in words
    library: str | None = None  # whose thread pools it runs on, where not the backend's (see run_sweep)

    def supports(self, op: str, backend: Backend) -> bool:
        return True

    def accepts(self, general: bool, complex_: bool) -> bool:
        """Whether the implementation is defined for such input (general: not Hermitian; complex dtype).

        Input it is not defined for is still passed to matsqrt's methods, whose
        own refusal the row records (``refused: ...``); peers that would
        silently return something else are not run on it.
        """
        return True

    def build(self, op: str, backend: Backend, a: Any, g: Any) -> Callable[[], Outputs]:
        raise NotImplementedError

    def count(self, op: str, a: np.ndarray, g: np.ndarray, on: tuple[Backend, Any] | None = None
              ) -> OpCount | None:
        """Products and solves of one call, measured on NumPy.

        ``on``: the backend the timed rows run on, with the input there.  The
        count does not depend on the backend except through how often the
        iterations check convergence (every step on NumPy, every fourth on a
        GPU, which can add up to three steps) and which method ``auto``
        picks, so the count replays both.
        """
        n, batch = a.shape[-1], math.prod(a.shape[:-2])
        every = 1 if on is None else check_every(on[0].xp)
        call = self.counted(on).build(op, _numpy_backend(), a.view(CountingArray), g.view(CountingArray))
        with count_numpy_ops(n, batch, timed=True) as counted, _check_cadence(every):
            call()
        return counted

    def counted(self, on: tuple[Backend, Any] | None) -> Impl:
        """The implementation whose NumPy run has the operations of a run ``on`` that backend."""
        return self

    def peak_memory(self, backend: Backend, call: Callable[[], Outputs]) -> tuple[Outputs, int | None, str | None]:
        out, peak = backend.peak_memory(call)
        return out, peak, backend.memory_method

    def describe(self) -> dict[str, Any]:
        return {}

    def gradient_reference(self, reference: Reference, inverse: bool) -> np.ndarray:
        """The float64 gradient this implementation's is compared with."""
        return reference.gradient(inverse)


@dataclass
class MatsqrtImpl(Impl):
    """A matsqrt method, called through the public API as a user would."""

    name: str
    method: str
    degree: int | None = None
    lyapunov_maxiter: int | None = None
    lyapunov_tol: float | None = None
    kind: str = "matsqrt"

    def build(self, op: str, backend: Backend, a: Any, g: Any) -> Callable[[], Outputs]:
        method, degree = self.method, self.degree
        if op == "fwd":
            return lambda: (matsqrt.sqrtm(a, method, degree=degree), None, {})
        if op == "inv":
            return lambda: (matsqrt.inv_sqrtm(a, method, degree=degree), None, {})
        root_vjp = matsqrt.sqrtm_vjp if op == "fwdbwd" else matsqrt.inv_sqrtm_vjp
        kwargs = dict(degree=degree, lyapunov_maxiter=self.lyapunov_maxiter, lyapunov_tol=self.lyapunov_tol)

        def call() -> Outputs:
            y, vjp = root_vjp(a, method, **kwargs)
            grad, info = vjp(g, return_info=True)
            return y, grad, {"lyapunov_iterations": info.iterations}

        return call

    def accepts(self, general: bool, complex_: bool) -> bool:
        return not general or self.method in GENERAL_METHODS

    def count(self, op: str, a: np.ndarray, g: np.ndarray, on: tuple[Backend, Any] | None = None
              ) -> OpCount | None:
        method = self.counted(on).method
        if method == "schur" or isinstance(method, matsqrt.Schur):
            # SciPy's Schur method in compiled code: its products are not NumPy calls to count.
            return None
        return super().count(op, a, g, on)

    def counted(self, on: tuple[Backend, Any] | None) -> Impl:
        if self.method != "auto" or on is None:
            return self
        # The method auto picks for that backend and input, e.g. matmul on CuPy.
        chosen = matsqrt.Auto().choose(on[1], on[0].xp)
        return dataclasses.replace(self, method=chosen)

    def describe(self) -> dict[str, Any]:
        lyapunov = "default"
        if self.lyapunov_maxiter is not None:
            lyapunov = f"maxiter={self.lyapunov_maxiter}, tol={self.lyapunov_tol:g}"
        method = self.method if isinstance(self.method, str) else repr(self.method)
        return {"method": method, "degree": self.degree, "lyapunov": lyapunov}


def matsqrt_impl(name: str) -> MatsqrtImpl:
    """``name`` from the ``--methods`` list (``NAME`` or ``NAME:DEGREE``) as an implementation."""
    base, _, degree = name.partition(":")
    degree_value = int(degree) if degree else None
    if base == PAPER_MPA:
        # The paper's MPA-Lya: [5/5] Padé forward, eight unchecked sign iterations.
        return MatsqrtImpl(name, "mpa", degree_value or 5, lyapunov_maxiter=8, lyapunov_tol=0.0)
    if base == SYNC_FREE:
        return MatsqrtImpl(name, matsqrt.Matmul(sync_free=True))
    return MatsqrtImpl(name, base, degree_value)


class EighImpl(Impl):
    """Peer: ``xp.linalg.eigh`` on the same backend, gradient by Daleckii-Krein."""

    name = PEERS["eigh"]
    kind = "peer"
    domain = "Hermitian (real: symmetric) positive semi-definite"

    def accepts(self, general: bool, complex_: bool) -> bool:
        return not general

    def build(self, op: str, backend: Backend, a: Any, g: Any) -> Callable[[], Outputs]:
        xp = backend.xp
        inverse = op.startswith("inv")
        if op in ("fwd", "inv"):
            return lambda: (eigh_root(a, xp, inverse=inverse)[0], None, {})

        def call() -> Outputs:
            y, u, r = eigh_root(a, xp, inverse=inverse)
            return y, eigh_root_vjp(u, r, g, xp, inverse=inverse), {}

        return call


def _is_complex(x: Any) -> bool:
    return "complex" in str(x.dtype)


def eigh_root(a: Any, xp: Any, *, inverse: bool = False) -> tuple[Any, Any, Any]:
    """:func:`matsqrt._peers.eigh_root`, with ``U^H`` in place of ``U^T`` for complex Hermitian ``a``."""
    if not _is_complex(a):
        return _peers.eigh_root(a, xp, inverse=inverse)
    lam, u = xp.linalg.eigh(a)
    lam = xp.where(lam > 0, lam, xp.zeros_like(lam))
    r = xp.sqrt(lam)
    if inverse:
        r = 1.0 / r
    y = (u * r[..., None, :]) @ xp.conj(xp.matrix_transpose(u))
    return y, u, r


def eigh_root_vjp(u: Any, r: Any, g: Any, xp: Any, *, inverse: bool = False) -> Any:
    """:func:`matsqrt._peers.eigh_root_vjp` with conjugate transposes for complex ``u``.

    The gradient in PyTorch's convention, ``U (conj(L) o (U^H G U)) U^H``;
    the Daleckii-Krein weights ``L`` of a Hermitian root are real.
    """
    if not _is_complex(u):
        return _peers.eigh_root_vjp(u, r, g, xp, inverse=inverse)
    ri, rj = r[..., :, None], r[..., None, :]
    weights = -((ri * rj) ** 2) / (ri + rj) if inverse else 1.0 / (ri + rj)
    uh = xp.conj(xp.matrix_transpose(u))
    return u @ (weights * (uh @ g @ u)) @ uh


class ScipyImpl(Impl):
    """Peer: ``scipy.linalg.sqrtm`` (Schur method) on the host, forward only."""

    name = PEERS["scipy"]
    kind = "peer"
    library = "scipy"

    def supports(self, op: str, backend: Backend) -> bool:
        return op == "fwd"

    def build(self, op: str, backend: Backend, a: Any, g: Any) -> Callable[[], Outputs]:
        host = np.asarray(backend.to_numpy(a)) if backend.name != "numpy" else a
        return lambda: (_scipy_sqrtm(host), None, {"device": "cpu"})

    def count(self, op: str, a: np.ndarray, g: np.ndarray, on: tuple[Backend, Any] | None = None
              ) -> OpCount | None:
        # A Schur method in compiled code: its products are not NumPy calls to count.
        return None

    def peak_memory(self, backend: Backend, call: Callable[[], Outputs]) -> tuple[Outputs, int | None, str | None]:
        # SciPy >= 1.16 computes the batch in C with its own buffers, which
        # tracemalloc does not see (it reports about zero), so no number is given.
        return call(), None, None


@contextlib.contextmanager
def _check_cadence(every: int) -> Iterator[None]:
    """Make matsqrt's iterations check convergence every ``every`` steps on any backend."""
    from . import lyapunov, newton_schulz

    saved = lyapunov.check_every, newton_schulz.check_every
    lyapunov.check_every = newton_schulz.check_every = lambda xp: every
    try:
        yield
    finally:
        lyapunov.check_every, newton_schulz.check_every = saved


def _scipy_sqrtm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` on a batch (looped on SciPy before 1.16, which is unbatched)."""
    if a.ndim == 2 or _scipy_is_batched():
        return scipy.linalg.sqrtm(a)
    flat = a.reshape(-1, *a.shape[-2:])
    return np.stack([scipy.linalg.sqrtm(m) for m in flat]).reshape(a.shape)


def _scipy_is_batched() -> bool:
    major, minor = (int(v) for v in scipy.__version__.split(".")[:2])
    return (major, minor) >= (1, 16)


class TorchImpl(Impl):
    """Peer: the paper's MPA-Lya in PyTorch, forward and ``.backward()``."""

    name = PEERS["torch"]
    kind = "peer"
    count_source = "torch"
    library = "torch"
    domain = "real symmetric positive definite"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def supports(self, op: str, backend: Backend) -> bool:
        return backend.name == "numpy" or self.torch.cuda.is_available()

    def accepts(self, general: bool, complex_: bool) -> bool:
        # The paper's method is for real SPD input (its backward transposes without conjugating).
        return not general and not complex_

    def _tensor(self, backend: Backend, a: Any) -> Any:
        if backend.name == "numpy":
            return self.torch.from_numpy(np.ascontiguousarray(a))
        return self.torch.from_dlpack(a)

    def root(self, a: Any, inverse: bool) -> Any:
        """The (inverse) root of tensor ``a``, differentiable."""
        return _peers.torch_mpa_lya(a, inverse=inverse)

    def extra(self) -> dict[str, Any]:
        """What a forward and backward call reports besides the root and gradient."""
        return {"lyapunov_iterations": _peers.PAPER_LYAPUNOV_ITERATIONS}

    def build(self, op: str, backend: Backend, a: Any, g: Any) -> Callable[[], Outputs]:
        torch = self.torch
        at, gt = self._tensor(backend, a), self._tensor(backend, g)
        inverse = op.startswith("inv")
        if op in ("fwd", "inv"):
            def forward() -> Outputs:
                with torch.no_grad():
                    return self.root(at, inverse), None, {}

            return forward

        def call() -> Outputs:
            leaf = at.detach().requires_grad_(True)
            y = self.root(leaf, inverse)
            y.backward(gt)
            return y.detach(), leaf.grad, self.extra()

        return call

    def count(self, op: str, a: np.ndarray, g: np.ndarray, on: tuple[Backend, Any] | None = None
              ) -> OpCount | None:
        # Autograd runs backward() where a TorchFunctionMode does not see it,
        # so the two halves of the Function are called directly here.
        torch = self.torch
        at, gt = torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(g))
        inverse = op.startswith("inv")
        with count_torch_ops(a.shape[-1], math.prod(a.shape[:-2]), timed=True) as counted, torch.no_grad():
            y, s = _peers.torch_mpa_forward(at, inverse=inverse)
            if op.endswith("fwdbwd"):
                _peers.torch_lyapunov_backward(y, s, gt, inverse=inverse)
        return counted

    def peak_memory(self, backend: Backend, call: Callable[[], Outputs]) -> tuple[Outputs, int | None, str | None]:
        torch = self.torch
        if backend.name == "numpy":
            # PyTorch allocates through its own C++ allocator, which tracemalloc does not see.
            return call(), None, None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = call()
        torch.cuda.synchronize()
        return out, int(torch.cuda.max_memory_allocated() - base), "torch.cuda.max_memory_allocated"

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()


class TorchEighImpl(TorchImpl):
    """Peer: what a PyTorch user writes, ``torch.linalg.eigh`` and the root of the clamped eigenvalues,
    with PyTorch's autograd for the backward (:func:`matsqrt._peers.torch_eigh_root`)."""

    name = PEERS["torch-eigh"]
    domain = "Hermitian (real: symmetric) positive semi-definite"

    def accepts(self, general: bool, complex_: bool) -> bool:
        return not general

    def root(self, a: Any, inverse: bool) -> Any:
        return _peers.torch_eigh_root(a, inverse=inverse)

    def extra(self) -> dict[str, Any]:
        return {}

    def count(self, op: str, a: np.ndarray, g: np.ndarray, on: tuple[Backend, Any] | None = None
              ) -> OpCount | None:
        # The backward is PyTorch's own (eigh's autograd formula): counted where the engine runs it.
        at, gt = self.torch.from_numpy(np.ascontiguousarray(a)), self.torch.from_numpy(np.ascontiguousarray(g))
        inverse = op.startswith("inv")
        with count_torch_ops(a.shape[-1], math.prod(a.shape[:-2]), timed=True, autograd=True) as counted:
            if op.endswith("fwdbwd"):
                leaf = at.requires_grad_(True)
                self.root(leaf, inverse).backward(gt)
            else:
                with self.torch.no_grad():
                    self.root(at, inverse)
        return counted

    def gradient_reference(self, reference: Reference, inverse: bool) -> np.ndarray:
        # PyTorch's eigh backward gives the gradient along Hermitian perturbations: the Hermitian part.
        grad = reference.gradient(inverse)
        return (grad + _conj_t(grad)) / 2


def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def implementations(settings: Settings) -> list[Impl]:
    """The implementations a sweep runs: methods first, then the peers that can run here."""
    impls: list[Impl] = [matsqrt_impl(name) for name in settings.methods]
    for peer in settings.peers:
        if peer == "eigh":
            impls.append(EighImpl())
        elif peer == "scipy":
            impls.append(ScipyImpl())
        elif peer == "torch" and _torch_available():
            impls.append(TorchImpl())
        elif peer == "torch-eigh" and _torch_available():
            impls.append(TorchEighImpl())
    return impls


# --------------------------------------------------------------------------- inputs and references


def spd_batch(rng: np.random.Generator, batch: int, n: int, kappa: float) -> np.ndarray:
    """Random SPD matrices ``Q diag(lambda) Q^T``: Haar ``Q``, ``lambda`` log-spaced in [1/kappa, 1]."""
    g = rng.standard_normal((batch, n, n))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    lam = np.logspace(0.0, -math.log10(kappa), n)
    a = (q * lam) @ np.swapaxes(q, -1, -2)
    return (a + np.swapaxes(a, -1, -2)) / 2


def _haar_unitary(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    """Haar-distributed complex unitary matrices (QR of a complex Gaussian, phases of ``R``'s diagonal removed)."""
    z = (rng.standard_normal((batch, n, n)) + 1j * rng.standard_normal((batch, n, n))) / math.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    return q * (d / np.abs(d))[..., None, :]


def hermitian_batch(rng: np.random.Generator, batch: int, n: int, kappa: float) -> np.ndarray:
    """Random complex Hermitian positive definite ``Q diag(lambda) Q^H``: Haar unitary ``Q``, ``lambda`` as
    :func:`spd_batch`'s (complex128)."""
    q = _haar_unitary(rng, batch, n)
    lam = np.logspace(0.0, -math.log10(kappa), n)
    a = (q * lam) @ np.conj(np.swapaxes(q, -1, -2))
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2


GENERAL_MAX_ANGLE = math.pi / 3


def general_batch(rng: np.random.Generator, batch: int, n: int, kappa: float, complex_: bool = False
                  ) -> np.ndarray:
    """Random non-normal matrices ``Q T Q^H`` with their spectrum in the right half-plane.

    ``T`` is (block) upper triangular.  Its eigenvalues have moduli
    log-spaced in [1/kappa, 1] and arguments uniform in
    [-GENERAL_MAX_ANGLE, GENERAL_MAX_ANGLE] (pi/3): real input pairs
    neighbouring moduli into 2 x 2 rotation blocks ``r [[c, s], [-s, c]]``
    (eigenvalues ``r e^(+-i phi)``, ``r`` the pair's geometric mean; with
    odd ``n`` the last eigenvalue is real), complex input puts
    ``lambda_j e^(i phi_j)`` on the diagonal.  Above the diagonal (blocks)
    ``T_ij = z_ij sqrt(|t_ii| |t_jj|) / sqrt(n)`` with standard normal
    ``z_ij`` (complex for complex input): a departure from normality of
    the order of ``||A||_F`` that shrinks with the eigenvalues it couples,
    so the root stays well conditioned at any ``kappa`` (measured at n = 256,
    kappa = 1e3: ``cond(A^(1/2))`` about 40).  ``Q`` is Haar orthogonal
    (unitary).  Returns float64 (complex128).
    """
    i = np.arange(n)
    lam = np.logspace(0.0, -math.log10(kappa), n)
    if complex_:
        q = _haar_unitary(rng, batch, n)
        t = np.zeros((batch, n, n), dtype=np.complex128)
        t[:, i, i] = lam * np.exp(1j * rng.uniform(-GENERAL_MAX_ANGLE, GENERAL_MAX_ANGLE, (batch, n)))
        z = (rng.standard_normal((batch, n, n)) + 1j * rng.standard_normal((batch, n, n))) / math.sqrt(2)
        upper = np.triu(np.ones((n, n)), 1)
    else:
        q, r = np.linalg.qr(rng.standard_normal((batch, n, n)))
        q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
        t = np.zeros((batch, n, n))
        t[:, i, i] = lam
        even, odd = i[0:n - 1:2], i[1:n:2]
        radius = np.sqrt(lam[even] * lam[odd])
        phi = rng.uniform(-GENERAL_MAX_ANGLE, GENERAL_MAX_ANGLE, (batch, even.size))
        t[:, even, even] = t[:, odd, odd] = radius * np.cos(phi)
        t[:, even, odd] = radius * np.sin(phi)
        t[:, odd, even] = -radius * np.sin(phi)
        z = rng.standard_normal((batch, n, n))
        upper = np.triu(np.ones((n, n)), 1)
        upper[even, odd] = 0.0
    size = np.sqrt(np.abs(np.diagonal(t, axis1=-2, axis2=-1)))
    t = t + upper * z * (size[..., :, None] * size[..., None, :]) / math.sqrt(n)
    return q @ t @ np.conj(np.swapaxes(q, -1, -2))


def family_case(family: str, rng: np.random.Generator, batch: int, n: int, kappa: float, dtype: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """The input batch of ``family`` in ``dtype`` and an upstream gradient (complex Gaussian for complex dtypes)."""
    complex_ = dtype.startswith("complex")
    if family == "spd":
        a = spd_batch(rng, batch, n, kappa)
    elif family == "hermitian":
        a = hermitian_batch(rng, batch, n, kappa)
    elif family == "general":
        a = general_batch(rng, batch, n, kappa, complex_)
    else:
        raise ValueError(f"unknown family {family!r}; choose from {sorted(FAMILIES)}")
    g = rng.standard_normal((batch, n, n))
    if complex_:
        g = (g + 1j * rng.standard_normal((batch, n, n))) / math.sqrt(2)
    return a.astype(dtype), g.astype(dtype)


def _conj_t(x: np.ndarray) -> np.ndarray:
    return np.conj(np.swapaxes(x, -1, -2))


@dataclass
class Reference:
    """Float64 (complex128) references for one input: roots by SciPy, gradients by Daleckii-Krein (Hermitian
    input) or by a Sylvester solve (``general``).

    The gradient is PyTorch's convention for complex input, the adjoint of
    the Frechet derivative: ``Y^H X + X Y^H = G`` for the root ``Y``, and
    ``-Z^H G Z^H`` in place of ``G`` for the inverse root ``Z = Y^-1``.
    """

    a64: np.ndarray
    g64: np.ndarray
    general: bool = False
    _cache: dict[str, np.ndarray] = field(default_factory=dict)

    def root(self, inverse: bool) -> np.ndarray:
        if "sqrt" not in self._cache:
            root = _scipy_sqrtm(self.a64)
            self._cache["sqrt"] = root if np.iscomplexobj(self.a64) else np.real(root)
        if inverse and "inv" not in self._cache:
            eye = np.broadcast_to(np.eye(self.a64.shape[-1]), self.a64.shape)
            self._cache["inv"] = np.linalg.solve(self._cache["sqrt"], eye)
        return self._cache["inv" if inverse else "sqrt"]

    def gradient(self, inverse: bool) -> np.ndarray:
        key = "grad_inv" if inverse else "grad"
        if key not in self._cache:
            if self.general:
                self._cache[key] = self._sylvester_gradient(inverse)
            else:
                y, u, r = eigh_root(self.a64, np, inverse=inverse)
                self._cache[key] = eigh_root_vjp(u, r, self.g64, np, inverse=inverse)
        return self._cache[key]

    def _sylvester_gradient(self, inverse: bool) -> np.ndarray:
        """``Y^H X + X Y^H = G`` per matrix by SciPy's Bartels-Stewart solver, independently of matsqrt."""
        y = self.root(False)
        g = self.g64
        if inverse:
            zh = _conj_t(self.root(True))
            g = -(zh @ g @ zh)
        yh = _conj_t(y)
        flat_y, flat_g = yh.reshape(-1, *y.shape[-2:]), g.reshape(-1, *g.shape[-2:])
        grads = [scipy.linalg.solve_sylvester(b, b, c) for b, c in zip(flat_y, flat_g, strict=True)]
        return np.stack(grads).reshape(g.shape)


def relative_error(x: np.ndarray, ref: np.ndarray) -> float:
    """Worst relative Frobenius error over the batch (inf for non-finite results)."""
    x = np.asarray(x)
    x = x.astype(np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(ref) else np.float64)
    num = np.linalg.norm(x - ref, axis=(-2, -1))
    den = np.linalg.norm(ref, axis=(-2, -1))
    err = num / np.where(den > 0, den, 1.0)
    return float(np.max(err)) if np.all(np.isfinite(err)) else math.inf


# --------------------------------------------------------------------------- running


def _stall_seconds() -> float | None:
    """Cumulative seconds some task has waited for a CPU (Linux PSI ``some total``), or None."""
    try:
        first = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
        return float(first.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def stall_meter() -> Iterator[dict[str, float | None]]:
    """Share of the block's wall time during which some task waited for a CPU.

    On an otherwise idle machine a benchmark that uses no more threads than
    cores stalls nobody, so a share well above zero means other work competed
    for the CPUs while the block ran.  ``{"share": None}`` where Linux PSI is
    unavailable.
    """
    result: dict[str, float | None] = {"share": None}
    before, start = _stall_seconds(), time.perf_counter()
    try:
        yield result
    finally:
        after, elapsed = _stall_seconds(), time.perf_counter() - start
        if before is not None and after is not None and elapsed > 0:
            result["share"] = (after - before) / elapsed


def wait_for_idle(max_seconds: float, busy: float, window: float = 1.0) -> float:
    """Wait, up to ``max_seconds``, for a ``window`` with a stall share below ``busy``; the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_seconds:
        with stall_meter() as stall:
            time.sleep(window)
        if stall["share"] is None or stall["share"] < busy:
            break
    return time.perf_counter() - start


def time_call(call: Callable[[], Any], synchronize: Callable[[], None], *, warmup: int, repeats: int,
              max_seconds: float, min_repeats: int = 3) -> list[float]:
    """Wall times of ``repeats`` calls, the device synchronised around each one.

    Warm-up calls come first; the loop stops early once ``max_seconds`` are
    spent, but never before ``min_repeats`` samples.  The garbage collector is
    off while timing, as in :mod:`timeit`.
    """
    for _ in range(warmup):
        call()
        synchronize()
    samples: list[float] = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            synchronize()
            t0 = time.perf_counter()
            call()
            synchronize()
            samples.append(time.perf_counter() - t0)
            if len(samples) >= min_repeats and time.perf_counter() - start > max_seconds:
                break
    finally:
        if enabled:
            gc.enable()
    return samples


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 160 else text[:157] + "..."


def run_row(impl: Impl, op: str, backend: Backend, dtype: str, batch: int, n: int, kappa: float,
            host: tuple[np.ndarray, np.ndarray], device: tuple[Any, Any], reference: Reference,
            settings: Settings, counted: OpCount | None | Exception = None) -> dict[str, Any]:
    """Time, memory, accuracy and product count of one implementation on one case.

    ``counted``: the count, when made beforehand (see :func:`run_sweep`); an
    exception raised while counting fails the row.
    """
    row: dict[str, Any] = {
        "backend": backend.name, "device": backend.device if impl.name != PEERS["scipy"] else "cpu",
        "impl": impl.name, "kind": impl.kind, **impl.describe(),
        "op": op, "dtype": dtype, "batch": batch, "n": n, "kappa": kappa, "family": settings.family, "status": "ok",
        "repeats": 0, "time_median_s": None, "time_min_s": None, "time_max_s": None,
        "peak_memory_bytes": None, "memory_method": None, "fwd_err": None, "grad_err": None,
        "products": None, "solves": None, "eighs": None, "matmul_calls": None, "count_source": None,
        "op_seconds": None, "cpu_stall": None, "disturbed": None, "attempts": 0, "waited_s": None,
        "lyapunov_iterations": None, "gemm_seconds": None, "gemm_floor_s": None, "ratio": {},
    }
    to_numpy = impl.to_numpy if isinstance(impl, TorchImpl) else backend.to_numpy
    inverse = op.startswith("inv")
    accepted = impl.accepts(reference.general, np.iscomplexobj(host[0]))
    try:
        if not accepted and impl.kind == "peer":
            raise ValueError(f"{impl.name} is defined for {impl.domain} input only; the benchmark does not run it "
                             "on this input")
        call = impl.build(op, backend, *device)
        # The accuracy comes from a separate call whose peak memory is
        # measured; tracemalloc slows it down, so it is never timed.
        (y, grad, extra), peak, memory_method = impl.peak_memory(backend, call)
        row["peak_memory_bytes"], row["memory_method"] = peak, memory_method
        row["fwd_err"] = relative_error(to_numpy(y), reference.root(inverse))
        if grad is not None:
            row["grad_err"] = relative_error(to_numpy(grad), impl.gradient_reference(reference, inverse))
        row["lyapunov_iterations"] = extra.get("lyapunov_iterations")
        del y, grad
        best: tuple[float, list[float]] | None = None
        for attempt in range(1 + settings.retries):
            if settings.wait_idle > 0:
                row["waited_s"] = (row["waited_s"] or 0.0) + wait_for_idle(settings.wait_idle, settings.busy)
            with stall_meter() as stall:
                samples = time_call(call, backend.synchronize, warmup=settings.warmup, repeats=settings.repeats,
                                    max_seconds=settings.max_seconds)
            share = stall["share"]
            if best is None or (share is not None and share < best[0]):
                best = (math.inf if share is None else share, samples)
            row["attempts"] = attempt + 1
            if share is None or share <= settings.busy:
                break
        stall_share, samples = best
        row.update(repeats=len(samples), time_median_s=statistics.median(samples), time_min_s=min(samples),
                   time_max_s=max(samples), cpu_stall=None if math.isinf(stall_share) else stall_share,
                   disturbed=bool(stall_share > settings.busy and not math.isinf(stall_share)))
        if counted is None:
            counted = impl.count(op, *host, on=(backend, device[0]))
        if isinstance(counted, Exception):
            raise counted
        if counted is not None:
            row.update(products=counted.products, solves=counted.per_matrix("solve"),
                       eighs=counted.per_matrix("eigh"), matmul_calls=counted.matmul_calls,
                       count_source=impl.count_source, op_seconds=dict(counted.seconds))
    except Exception as exc:  # one failing method must not end the sweep; the row says why
        # A method refusing input it is not defined for (as it should) is no failure.
        refused = not accepted and isinstance(exc, (ValueError, TypeError))
        row["status"] = (REFUSED if refused else "") + _short(exc)
    return row


GEMM_BURST = 20
# Seconds to let BLAS worker threads stop spinning after the host work of a
# case before a device is timed, and before a row of another library than the
# previous row's (OpenBLAS waits about 0.1 s before sleeping; issue 12 measured
# one comparison at 0.57 with two libraries interleaved, 2.0 timed in blocks).
_SETTLE = 0.5


def _prepare_case(todo: Sequence[tuple[Impl, str]], backend: Backend, host: tuple[np.ndarray, np.ndarray],
                  device: tuple[Any, Any], reference: Reference) -> dict[tuple[str, str], Any]:
    """On an accelerator, do a case's host work first: references and product counts.

    NumPy's threaded BLAS keeps its threads spinning for a while after each
    call, taking CPU time from the thread that launches GPU work; done between
    timed rows it inflated the GPU times of small cases up to twofold (H100,
    2026-11-24).  On NumPy the work is done row by row as before.
    """
    if backend.name == "numpy":
        return {}
    counts: dict[tuple[str, str], Any] = {}
    for impl, op in todo:
        inverse = op.startswith("inv")
        reference.root(inverse)
        if op.endswith("fwdbwd"):
            reference.gradient(inverse)
        try:
            counts[impl.name, op] = impl.count(op, *host, on=(backend, device[0]))
        except Exception as exc:  # reported by the row
            counts[impl.name, op] = exc
    time.sleep(_SETTLE)
    return counts


def gemm_seconds(backend: Backend, a: Any, b: Any, settings: Settings) -> float:
    """Median time of one bare ``a @ b``, from bursts of :data:`GEMM_BURST` back-to-back calls."""
    def burst() -> None:
        for _ in range(GEMM_BURST):
            a @ b

    samples = time_call(burst, backend.synchronize, warmup=1, repeats=max(settings.repeats, 3),
                        max_seconds=settings.max_seconds)
    return statistics.median(samples) / GEMM_BURST


def add_gemm_floor(rows: list[dict[str, Any]], seconds: float) -> None:
    """Set each counted row's GEMM floor (products x one product's time) and its ratio to it."""
    for row in rows:
        row["gemm_seconds"] = seconds
        if row["status"] == "ok" and row["products"]:
            row["gemm_floor_s"] = row["products"] * seconds
            row["ratio"]["gemm"] = row["time_median_s"] / row["gemm_floor_s"]


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Fill ``row["ratio"][peer] = time / peer's time`` for the peers of the same case."""
    def key(row):
        return row["backend"], row["op"], row["dtype"], row["batch"], row["n"], row["kappa"]

    peers: dict[tuple, dict[str, float]] = {}
    for row in rows:
        if row["kind"] == "peer" and row["status"] == "ok":
            peers.setdefault(key(row), {})[row["impl"]] = row["time_median_s"]
    for row in rows:
        if row["status"] != "ok":
            continue
        row["ratio"].update({name: row["time_median_s"] / t for name, t in peers.get(key(row), {}).items()
                             if name != row["impl"] and t > 0})


class _Progress:
    """tqdm when installed (and wanted), otherwise nothing."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                print(f"running {total} benchmark rows (pip install tqdm for a progress bar)", file=sys.stderr)
            else:
                # disable=None: no bar when stderr is not a terminal (CI logs)
                self._bar = tqdm(total=total, unit="row", dynamic_ncols=True, file=sys.stderr, disable=None)

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=False)
            self._bar.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_sweep(settings: Settings) -> list[dict[str, Any]]:
    """Every (backend, dtype, shape, kappa, op, implementation) row of the sweep."""
    backends = _backends(settings.backends)
    impls = implementations(settings)
    total = sum(impl.supports(op, b) for b in backends for impl in impls for op in settings.ops)
    total *= len(settings.dtypes) * len(settings.shapes) * len(settings.kappas)
    progress = _Progress(total, settings.progress)
    rows: list[dict[str, Any]] = []
    last_library = None
    try:
        for backend in backends:
            for dtype in settings.dtypes:
                for batch, n in settings.shapes:
                    for kappa in settings.kappas:
                        # The same input and upstream gradient for every op and implementation.
                        rng = np.random.default_rng([settings.seed, batch, n, round(1000 * math.log10(kappa))])
                        a, g = family_case(settings.family, rng, batch, n, kappa, dtype)
                        wide = np.complex128 if np.iscomplexobj(a) else np.float64
                        reference = Reference(a.astype(wide), g.astype(wide), general=settings.family == "general")
                        device = backend.to_backend(a), backend.to_backend(g)
                        todo = [(impl, op) for op in settings.ops for impl in impls if impl.supports(op, backend)]
                        counts = _prepare_case(todo, backend, (a, g), device, reference)
                        case: list[dict[str, Any]] = []
                        for impl, op in todo:
                            # Each row is timed in its own block; when the library changes, the previous
                            # one's spinning threads (OpenBLAS, OpenMP) get time to sleep first.
                            library = impl.library or backend.name
                            if library != last_library:
                                time.sleep(_SETTLE)
                            last_library = library
                            case.append(run_row(impl, op, backend, dtype, batch, n, kappa, (a, g), device,
                                                reference, settings, counts.get((impl.name, op))))
                            progress.step(f"{op} {dtype} {batch}x{n} k={kappa:g} {impl.name}")
                        add_gemm_floor(case, gemm_seconds(backend, *device, settings))
                        rows.extend(case)
    finally:
        progress.close()
    add_ratios(rows)
    return rows


# --------------------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def thread_counts() -> dict[str, Any]:
    """Threads of each loaded BLAS/OpenMP pool (threadpoolctl), NumPy's, and PyTorch's."""
    info: dict[str, Any] = {"numpy": None, "torch": None, "pools": []}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["numpy"] = os.cpu_count()
        info["numpy_source"] = "os.cpu_count() (install threadpoolctl to read the BLAS pool)"
    else:
        pools = threadpool_info()
        info["pools"] = [{"api": p["internal_api"], "threads": p["num_threads"],
                          "library": "/".join(Path(p["filepath"]).parts[-2:]),
                          "architecture": p.get("architecture")} for p in pools]
        # NumPy's wheels ship their own OpenBLAS in numpy.libs; SciPy and PyTorch load others.
        numpy_pools = [p for p in pools if "numpy" in p["filepath"]] or [p for p in pools if p["user_api"] == "blas"]
        info["numpy"] = numpy_pools[0]["num_threads"] if numpy_pools else os.cpu_count()
        info["numpy_source"] = "threadpoolctl"
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].get_num_threads()
    return info


_PERFORMANCE_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                          "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "MKL_ENABLE_INSTRUCTIONS",
                          "CUDA_VISIBLE_DEVICES")


def _blas_summary(threads: dict[str, Any], variables: dict[str, str]) -> str:
    """E.g. ``OpenBLAS, Haswell kernels (OPENBLAS_CORETYPE=Haswell)`` for NumPy's BLAS pool."""
    numpy_pools = [p for p in threads["pools"] if "numpy" in (p["library"] or "")] or threads["pools"][:1]
    if not numpy_pools:
        return "unknown"
    pool = numpy_pools[0]
    text = f"{pool['api']}" + (f", {pool['architecture']} kernels" if pool.get("architecture") else "")
    forced = [f"{k}={v}" for k, v in variables.items() if k.startswith("OPENBLAS")]
    return text + (f" ({', '.join(forced)})" if forced else "")


def environment(backends: Sequence[str]) -> dict[str, Any]:
    """Machine, library versions, threads and date, for the result file."""
    devices = [b.device for b in _backends([name for name in backends if name == "numpy"])]
    if "cupy" in backends:
        devices.append(_cupy_backend(required=True).device)
    cpu = _cpu_model()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": "; ".join(f"cpu: {cpu}" if d == "cpu" else d for d in devices),
        "machine": {
            "platform": platform.platform(),
            "cpu_model": cpu,
            "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(),
        },
        "versions": {
            "matsqrt": matsqrt.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "array_api_compat": _version("array-api-compat"),
            "torch": sys.modules["torch"].__version__ if "torch" in sys.modules else _version("torch"),
            "cupy": sys.modules["cupy"].__version__ if "cupy" in sys.modules else None,
        },
        "threads": thread_counts(),
        "git": git_state(),
        # Settings that change which kernels and how many threads the libraries use.
        "environment_variables": {name: os.environ[name] for name in _PERFORMANCE_VARIABLES if name in os.environ},
    }


def git_state() -> dict[str, Any] | None:
    """The commit of the source tree matsqrt was imported from and whether it had uncommitted changes
    (``None`` outside a git checkout): the version number alone does not say which code was timed."""
    import subprocess

    root = Path(matsqrt.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode != 0 or status.returncode != 0:
        return None
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    return {"commit": commit.stdout.strip(), "dirty": bool(changed), "changed": changed}


def machine_load() -> dict[str, float | None]:
    """Load average and the share of time tasks waited for a CPU (Linux PSI, last 10 s).

    Recorded before and after the sweep: timings on a machine that other
    work is using are slower and noisier, and the file should say so.
    """
    load = {"loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "cpu_pressure_avg10": None}
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        load["cpu_pressure_avg10"] = float(dict(kv.split("=") for kv in first.split()[1:])["avg10"])
    except (OSError, KeyError, ValueError, IndexError):
        pass
    return load


@contextlib.contextmanager
def thread_setup(settings: Settings) -> Iterator[None]:
    """Pin NumPy's BLAS and PyTorch to the same thread count for the whole sweep."""
    limits = contextlib.nullcontext()
    if settings.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise SystemExit("--threads needs threadpoolctl: pip install threadpoolctl") from None
        # BLAS pools only: PyTorch's OpenMP pool is set through torch itself.
        limits = threadpool_limits(limits=settings.threads, user_api="blas")
    with limits:
        if any(peer in TORCH_PEERS for peer in settings.peers) and _torch_available():
            import torch

            target = settings.threads or thread_counts()["numpy"] or os.cpu_count() or 1
            # Only when it differs: in torch 2.5-2.13 an explicit set_num_threads(k > 1)
            # makes MKL's batched LU run concurrently and return wrong solves for
            # n >~ 150 (pytorch/pytorch#142815, #141358), even when k is the default.
            if torch.get_num_threads() != target:
                torch.set_num_threads(target)
        yield


# --------------------------------------------------------------------------- output


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1e3 * seconds:.3g}"


def _sci(x: float | None) -> str:
    return "-" if x is None else ("inf" if math.isinf(x) else f"{x:.1e}")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


_COLUMNS = (
    ("op", "op", "<"), ("dtype", "dtype", "<"), ("shape", "batch x n", "<"), ("kappa", "kappa", ">"),
    ("impl", "method", "<"), ("median", "median ms", ">"), ("min", "min ms", ">"), ("max", "max ms", ">"),
    ("mem", "peak MiB", ">"), ("fwd", "fwd err", ">"), ("grad", "grad err", ">"), ("prod", "n^3 prod", ">"),
    ("solve", "solves", ">"), ("eigh-dk", "x eigh", ">"), ("scipy", "x scipy", ">"),
    ("torch-mpa-lya", "x torch", ">"), ("torch-eigh", "x t-eigh", ">"), ("gemm", "x gemm", ">"),
)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table; failed rows are listed below it."""
    cells = []
    for row in rows:
        if row["status"] != "ok":
            continue
        mem = row["peak_memory_bytes"]
        cell = {
            "op": row["op"] + ("" if row["backend"] == "numpy" else f"/{row['backend']}"),
            "dtype": row["dtype"], "shape": f"{row['batch']}x{row['n']}", "kappa": f"{row['kappa']:.0e}",
            "impl": row["impl"], "median": _ms(row["time_median_s"]) + ("!" if row.get("disturbed") else ""),
            "min": _ms(row["time_min_s"]),
            "max": _ms(row["time_max_s"]), "mem": "-" if mem is None else f"{mem / 2**20:.1f}",
            "fwd": _sci(row["fwd_err"]), "grad": _sci(row["grad_err"]), "prod": _num(row["products"]),
            "solve": _num(row["solves"]) if row["eighs"] in (None, 0) else f"{_num(row['eighs'])} eigh",
        }
        for peer in (*PEERS.values(), "gemm"):
            ratio = row["ratio"].get(peer)
            cell[peer] = "-" if ratio is None else f"{ratio:.2f}"
        cells.append(cell)
    widths = {key: max([len(title)] + [len(c[key]) for c in cells]) for key, title, _ in _COLUMNS}

    def line(values: dict[str, str]) -> str:
        return "  ".join(f"{values[key]:{align}{widths[key]}}" for key, _, align in _COLUMNS).rstrip()

    out = [line({key: title for key, title, _ in _COLUMNS}), "  ".join("-" * widths[key] for key, _, _ in _COLUMNS)]
    previous = None
    for cell in cells:
        group = (cell["op"], cell["dtype"], cell["shape"], cell["kappa"])
        if previous is not None and group != previous:
            out.append("")
        previous = group
        out.append(line(cell))
    disturbed = sum(bool(row.get("disturbed")) for row in rows)
    if disturbed:
        out.append(f"! {disturbed} row(s) timed while other threads kept CPUs busy (stall share above --busy; "
                   "other processes, or another library's idle thread pool): their times are inflated; "
                   "see --wait-idle and --retries")
    out.extend(_refusals(rows))
    failed = [row for row in rows if row["status"] != "ok" and not row["status"].startswith(REFUSED)]
    for row in failed:
        out.append(f"FAILED {row['op']} {row['dtype']} {row['batch']}x{row['n']} kappa={row['kappa']:.0e} "
                   f"{row['impl']}: {row['status']}")
    return "\n".join(out)


REFUSED = "refused: "


def _refusals(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per implementation that refused input it is not defined for: its cases and the first reason."""
    by_impl: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"].startswith(REFUSED):
            by_impl.setdefault(row["impl"], []).append(row)
    out = []
    for impl, refused in by_impl.items():
        ops = ",".join(dict.fromkeys(row["op"] for row in refused))
        dtypes = ",".join(dict.fromkeys(row["dtype"] for row in refused))
        shapes = ",".join(dict.fromkeys(f"{row['batch']}x{row['n']}" for row in refused))
        out.append(f"REFUSED {impl} ({len(refused)} row(s): {ops}; {dtypes}; {shapes}): "
                   f"{refused[0]['status'][len(REFUSED):]}")
    return out


_LINALG_NAMES = {"solve", "inv", "eigh", "cholesky", "eig", "svd", "qr", "det", "lstsq"}


def format_breakdown(rows: Sequence[dict[str, Any]]) -> str:
    """Where the time of each row goes: matrix products, factorisations, everything else.

    From ``op_seconds``, the operation times of the one instrumented call made
    to count products (so the total differs a little from the timed median).
    """
    header = (f"{'op':<10} {'dtype':<8} {'batch x n':<10} {'kappa':>6} {'method':<14} {'instr. ms':>9} "
              f"{'matmul':>7} {'solve/eigh':>10} {'other':>6}")
    out = ["where the time goes (one instrumented call per row; shares of the intercepted time):", header]
    for row in rows:
        seconds = row.get("op_seconds")
        if row["status"] != "ok" or not seconds:
            continue
        total = sum(seconds.values())
        matmul = seconds.get("matmul", 0.0)
        linalg = sum(v for k, v in seconds.items() if k in _LINALG_NAMES)
        shares = [f"{100 * x / total:.0f}%" if total > 0 else "-" for x in (matmul, linalg, total - matmul - linalg)]
        shape = f"{row['batch']}x{row['n']}"
        out.append(f"{row['op']:<10} {row['dtype']:<8} {shape:<10} {row['kappa']:6.0e} {row['impl']:<14} "
                   f"{1e3 * total:9.3g} {shares[0]:>7} {shares[1]:>10} {shares[2]:>6}")
    return "\n".join(out)


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    flat = {key: value for key, value in row.items() if key not in ("ratio", "op_seconds")}
    flat["op_seconds"] = json.dumps(row["op_seconds"]) if row["op_seconds"] else None
    flat.update({f"ratio_{peer}": row["ratio"].get(peer) for peer in (*PEERS.values(), "gemm")})
    return flat


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def result_path(path: str, env: dict[str, Any]) -> Path:
    """``path``, or ``path/<device>-<date>.json`` when it is a folder (ends with a slash or exists)."""
    target = Path(path)
    if path.endswith(("/", os.sep)) or target.is_dir():
        device = env["device"].split(";")[0]
        target = target / f"{_slug(device)}-{env['date'][:10]}.json"
    return target


def write_results(rows: Sequence[dict[str, Any]], env: dict[str, Any], settings: Settings,
                  json_path: str | None, csv_path: str | None) -> list[Path]:
    """Write the JSON document and/or the CSV rows; returns the paths written."""
    written = []
    if json_path:
        target = result_path(json_path, env)
        target.parent.mkdir(parents=True, exist_ok=True)
        document = {"schema": SCHEMA, **env, "settings": _settings_dict(settings), "rows": list(rows)}
        target.write_text(json.dumps(document, indent=1, allow_nan=True) + "\n")
        written.append(target)
    if csv_path:
        target = Path(csv_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        flat = [_csv_row(row) for row in rows]
        fields = list(flat[0]) if flat else []
        with target.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(flat)
        written.append(target)
    return written


def _settings_dict(settings: Settings) -> dict[str, Any]:
    return {
        "methods": list(settings.methods), "peers": list(settings.peers), "dtypes": list(settings.dtypes),
        "shapes": [f"{b}x{n}" for b, n in settings.shapes], "kappas": list(settings.kappas),
        "ops": list(settings.ops), "backends": [b.rstrip("?") for b in settings.backends],
        "repeats": settings.repeats, "warmup": settings.warmup, "max_seconds": settings.max_seconds,
        "threads": settings.threads, "seed": settings.seed, "wait_idle": settings.wait_idle,
        "busy": settings.busy, "retries": settings.retries, "family": settings.family,
    }


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the sweep from command-line arguments, print the table, write the files.

    Returns
    -------
    dict
        The document written by ``--json``: ``schema``, ``date``, ``device``,
        ``machine``, ``versions``, ``threads``, ``git``, ``load``,
        ``settings`` and ``rows``.
    """
    settings, args = parse_args(argv)
    started = time.perf_counter()
    with thread_setup(settings):
        backends = [b.name for b in _backends(settings.backends)]
        env = environment(backends)
        load_before = machine_load()
        rows = run_sweep(settings)
        env["load"] = {"before": load_before, "after": machine_load()}
    elapsed = time.perf_counter() - started
    threads = env["threads"]
    print(f"matsqrt {matsqrt.__version__} benchmark on {env['device']}, {env['date'][:10]}; "
          f"threads: numpy {threads['numpy']}, torch {threads['torch']}; "
          f"numpy BLAS: {_blas_summary(threads, env['environment_variables'])}; {elapsed:.0f} s")
    pressure = [env["load"][when]["cpu_pressure_avg10"] for when in ("before", "after")]
    if None not in pressure:
        print(f"CPU pressure (share of time tasks waited for a CPU, Linux PSI avg10) before/after: "
              f"{pressure[0]:.0f}%/{pressure[1]:.0f}%; other work on the machine slows and spreads the times")
    if settings.family != "spd":
        print(f"inputs: --family {settings.family}: {_FAMILY_TEXT[settings.family]}")
    gradient = "Sylvester solve (scipy.linalg.solve_sylvester)" if settings.family == "general" else "Daleckii-Krein"
    wide = "complex128/float64" if settings.family != "spd" else "float64"
    print(f"times: median/min/max of the repeats; errors: worst relative Frobenius over the batch vs {wide} "
          f"scipy.linalg.sqrtm / {gradient}; n^3 prod: measured n x n x n products per matrix; "
          "x PEER: time / peer's time; x gemm: time / (n^3 prod x one bare batched matmul's time)")
    print(format_table(rows))
    if args.breakdown:
        print()
        print(format_breakdown(rows))
    for path in write_results(rows, env, settings, args.json, args.csv):
        print(f"wrote {path}")
    return {"schema": SCHEMA, **env, "settings": _settings_dict(settings), "rows": rows}


_FAMILY_TEXT = {
    "general": "non-normal Q T Q^H, T (block) upper triangular with eigenvalue moduli log-spaced in [1/kappa, 1] "
               "and arguments in [-pi/3, pi/3] (general_batch)",
    "hermitian": "complex Hermitian positive definite Q diag(lambda) Q^H, Haar unitary Q, lambda log-spaced in "
                 "[1/kappa, 1] (hermitian_batch)",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m matsqrt.bench`` and ``matsqrt-bench``."""
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
