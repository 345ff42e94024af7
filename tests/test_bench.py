"""The benchmark CLI, its product counter and its peers (never the timings' values)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib.util
import io
import json
import math

import array_api_strict
import numpy as np
import pytest
import scipy.linalg
from array_api_compat import array_namespace

import matsqrt
from matsqrt import _peers, bench
from matsqrt._counting import CountingArray, count_numpy_ops
from matsqrt.lyapunov import sign_step

from helpers import daleckii_krein, frechet_fd, inv_sqrt_weights, sqrt_weights

HAS_TORCH = importlib.util.find_spec("torch") is not None
FORWARD_OPS = {"fwd", "inv"}


def _spd(n: int, kappa: float, batch: int = 2, seed: int = 0) -> np.ndarray:
    return bench.spd_batch(np.random.default_rng(seed), batch, n, kappa)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """One in-process run of the CLI on a sweep of a few seconds, with its files and output."""
    out = tmp_path_factory.mktemp("bench")
    argv = ["--backend", "numpy", "--methods", "all,mtp:0", "--shapes", "3x6", "--dtypes", "float64", "--kappas", "10",
            "--ops", ",".join(bench.OPS), "--repeats", "2", "--warmup", "0", "--no-progress", "--breakdown",
            "--json", f"{out}/", "--csv", str(out / "rows.csv")]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        document = bench.run(argv)
    (json_path,) = out.glob("*.json")
    return document, json.loads(json_path.read_text()), out / "rows.csv", buffer.getvalue(), json_path


def test_json_has_machine_versions_threads_and_settings(tiny_sweep):
    document, saved, _, _, json_path = tiny_sweep
    assert saved["schema"] == bench.SCHEMA
    assert saved["date"][:4].isdigit() and "T" in saved["date"]
    assert saved["device"].startswith("cpu: ")
    assert json_path.name == f"{bench._slug(saved['device'])}-{saved['date'][:10]}.json"
    assert {"platform", "cpu_model", "cpu_count"} <= set(saved["machine"])
    assert saved["machine"]["cpu_count"] >= 1
    versions = saved["versions"]
    assert versions["numpy"] == np.__version__ and versions["scipy"] == scipy.__version__
    assert versions["matsqrt"] == matsqrt.__version__
    assert {"torch", "cupy"} <= set(versions)
    assert saved["threads"]["numpy"] >= 1
    assert (saved["threads"]["torch"] is not None) == HAS_TORCH
    assert set(saved["load"]) == {"before", "after"}
    assert isinstance(saved["environment_variables"], dict)
    # the source tree timed: a commit and whether it had changes (None outside a git checkout)
    assert saved["git"] is None or (len(saved["git"]["commit"]) == 40 and isinstance(saved["git"]["dirty"], bool))
    assert "numpy BLAS: " in tiny_sweep[3].splitlines()[0]
    assert saved["settings"]["shapes"] == ["3x6"] and saved["settings"]["ops"] == list(bench.OPS)
    # What run() returns is what it wrote.
    assert json.loads(json.dumps(document)) == saved


def test_one_row_per_supported_implementation_and_op(tiny_sweep):
    rows = tiny_sweep[1]["rows"]
    names = [*matsqrt.METHODS, bench.PAPER_MPA, bench.SYNC_FREE, "mtp:0"]
    expected = {(name, op) for name in [*names, "eigh-dk"] for op in bench.OPS} | {("scipy", "fwd")}
    if HAS_TORCH:
        expected |= {(peer, op) for peer in ("torch-mpa-lya", "torch-eigh") for op in bench.OPS}
    assert {(row["impl"], row["op"]) for row in rows} == expected
    assert len(rows) == len(expected)


def test_failing_method_is_recorded_not_raised(tiny_sweep):
    _, saved, _, printed, _ = tiny_sweep
    failed = [row for row in saved["rows"] if row["impl"] == "mtp:0"]
    assert failed and all(row["status"].startswith("ValueError") for row in failed)
    assert all(row["time_median_s"] is None for row in failed)
    assert "FAILED fwd float64 3x6" in printed
    assert all(row["status"] == "ok" for row in saved["rows"] if row["impl"] != "mtp:0")


def _has_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(not _has_gpu(), reason="needs CuPy and a CUDA GPU")
def test_cupy_sweep_rows_are_complete(tmp_path):
    argv = ["--backend", "cupy", "--methods", "auto,matmul,paper-mpa", "--shapes", "3x16", "--dtypes", "float32",
            "--kappas", "10", "--ops", "fwd,fwdbwd", "--repeats", "2", "--warmup", "1", "--no-progress",
            "--json", f"{tmp_path}/"]
    with contextlib.redirect_stdout(io.StringIO()):
        document = bench.run(argv)
    assert document["device"].startswith("gpu: ")
    rows = document["rows"]
    assert rows and all(row["status"] == "ok" for row in rows)
    assert all(row["backend"] == "cupy" and row["memory_method"] for row in rows if row["kind"] == "matsqrt")
    by_impl = {(row["impl"], row["op"]): row for row in rows}
    # auto runs matmul on CuPy, and the count says so (no eigh), checking every fourth step
    assert by_impl["auto", "fwdbwd"]["eighs"] == 0
    assert by_impl["auto", "fwdbwd"]["products"] == by_impl["matmul", "fwdbwd"]["products"]
    assert by_impl["matmul", "fwd"]["fwd_err"] < 1e-5
    assert by_impl["matmul", "fwdbwd"]["ratio"]["gemm"] > 0


def test_times_are_ordered_statistics(tiny_sweep):
    for row in tiny_sweep[1]["rows"]:
        if row["status"] == "ok":
            assert row["repeats"] == 2
            assert 0 < row["time_min_s"] <= row["time_median_s"] <= row["time_max_s"]
            assert row["attempts"] == 1  # no --retries
            assert row["cpu_stall"] is None or row["cpu_stall"] >= 0
            assert row["disturbed"] == (row["cpu_stall"] is not None and row["cpu_stall"] > 0.1)


def test_stall_meter_and_wait_for_idle_return_sane_values():
    with bench.stall_meter() as stall:
        sum(range(10_000))
    assert stall["share"] is None or stall["share"] >= 0
    waited = bench.wait_for_idle(0.3, busy=math.inf, window=0.05)
    assert 0.05 <= waited < 0.3  # anything counts as idle below an infinite threshold


def test_ratios_are_time_over_each_peer_of_the_same_case(tiny_sweep):
    rows = [row for row in tiny_sweep[1]["rows"] if row["status"] == "ok"]
    peer_time = {(row["impl"], row["op"]): row["time_median_s"] for row in rows if row["kind"] == "peer"}
    checked = 0
    for row in rows:
        peers_here = {name for name, op in peer_time if op == row["op"] and name != row["impl"]}
        assert set(row["ratio"]) - {"gemm"} == peers_here
        for name, ratio in row["ratio"].items():
            if name == "gemm":
                continue
            assert ratio == pytest.approx(row["time_median_s"] / peer_time[name, row["op"]], rel=1e-12)
            checked += 1
    assert checked > 0


def test_gemm_floor_is_products_times_one_bare_matmul(tiny_sweep):
    rows = [row for row in tiny_sweep[1]["rows"] if row["status"] == "ok"]
    counted = [row for row in rows if row["products"]]
    assert counted
    for row in counted:
        assert row["gemm_seconds"] > 0
        assert row["gemm_floor_s"] == pytest.approx(row["products"] * row["gemm_seconds"], rel=1e-12)
        assert row["ratio"]["gemm"] == pytest.approx(row["time_median_s"] / row["gemm_floor_s"], rel=1e-12)
    for row in rows:
        if not row["products"]:
            assert "gemm" not in row["ratio"] and row["gemm_floor_s"] is None


def test_gemm_seconds_times_a_burst_of_products(monkeypatch):
    calls = []

    class Probe:
        def __matmul__(self, other):
            calls.append(other)
            return self

    settings = bench.parse_args(["--repeats", "3", "--warmup", "0"])[0]
    seconds = bench.gemm_seconds(bench._numpy_backend(), Probe(), "b", settings)
    assert seconds > 0
    # one warm-up burst and three timed ones, each of GEMM_BURST products
    assert len(calls) == 4 * bench.GEMM_BURST and set(calls) == {"b"}


def test_count_replays_the_backends_check_cadence():
    rng = np.random.default_rng(3)
    a = bench.spd_batch(rng, 2, 8, 1e3)
    g = rng.standard_normal((2, 8, 8))
    impl = bench.matsqrt_impl("matmul")
    numpy_backend = bench._numpy_backend()
    gpu_like = dataclasses.replace(numpy_backend, xp=array_api_strict)  # checks every fourth step
    every_step, every_fourth = (impl.count("fwdbwd", a, g, on=(b, a)).products for b in (numpy_backend, gpu_like))
    # Checking every fourth step overshoots convergence and tightens the step
    # scalings less often: more products for the same input (100 and 121 here).
    assert every_fourth > every_step
    assert matsqrt.lyapunov.check_every(np) == 1  # restored


def test_errors_are_computed_against_float64_references(tiny_sweep):
    rows = [row for row in tiny_sweep[1]["rows"] if row["status"] == "ok"]
    for row in rows:
        assert math.isfinite(row["fwd_err"]) and row["fwd_err"] >= 0
        assert (row["grad_err"] is None) == (row["op"] in FORWARD_OPS)
    by_impl = {(row["impl"], row["op"]): row for row in rows}
    # eigh and the Daleckii-Krein formula agree with the references to rounding...
    for op in bench.OPS:
        assert by_impl["eigh-dk", op]["fwd_err"] < 1e-12
        if op not in FORWARD_OPS:
            assert by_impl["eigh-dk", op]["grad_err"] < 1e-12
    # ...while the paper's [5/5] Padé is visibly inexact at condition number 10.
    if HAS_TORCH:
        assert by_impl["torch-mpa-lya", "fwd"]["fwd_err"] > 1e-6
        assert by_impl["torch-mpa-lya", "fwdbwd"]["lyapunov_iterations"] == 8
    assert by_impl[bench.PAPER_MPA, "fwdbwd"]["lyapunov_iterations"] == 8


def test_product_counts_are_measured(tiny_sweep):
    by_impl = {(row["impl"], row["op"]): row for row in tiny_sweep[1]["rows"] if row["status"] == "ok"}
    # The peers' costs follow from code in this repository: eigh forward is one
    # product, its Daleckii-Krein gradient four more; the paper's MPA-Lya is 4
    # products and a solve forward and 8 iterations of 6 products backward.
    assert by_impl["eigh-dk", "fwd"]["products"] == pytest.approx(1)
    assert by_impl["eigh-dk", "fwd"]["eighs"] == pytest.approx(1)
    assert by_impl["eigh-dk", "fwdbwd"]["products"] == pytest.approx(5)
    assert by_impl["scipy", "fwd"]["products"] is None  # a Schur method in compiled code: not countable
    if HAS_TORCH:
        assert by_impl["torch-mpa-lya", "fwd"]["products"] == pytest.approx(4)
        assert by_impl["torch-mpa-lya", "fwd"]["solves"] == pytest.approx(1)
        assert by_impl["torch-mpa-lya", "fwdbwd"]["products"] == pytest.approx(4 + 8 * 6)
        # The inverse root's right-hand side -A^-T G A^-T with A^-1 = Z Z adds 3.
        assert by_impl["torch-mpa-lya", "invfwdbwd"]["products"] == pytest.approx(4 + 3 + 8 * 6)
    assert all(by_impl["schur", op]["products"] is None for op in bench.OPS)  # SciPy's compiled Schur method
    for name in [*(m for m in matsqrt.METHODS if m != "schur"), bench.PAPER_MPA, bench.SYNC_FREE]:
        for op in bench.OPS:
            assert by_impl[name, op]["products"] > 0
            assert by_impl[name, op]["count_source"] == "numpy"
        # A backward costs products on top of its forward.
        assert by_impl[name, "fwdbwd"]["products"] > by_impl[name, "fwd"]["products"]


def test_each_row_says_where_its_time_goes(tiny_sweep):
    _, saved, _, printed, _ = tiny_sweep
    for row in saved["rows"]:
        if row["status"] == "ok" and row["impl"] not in ("scipy", "schur"):
            assert row["op_seconds"]["matmul"] > 0
            assert all(seconds >= 0 for seconds in row["op_seconds"].values())
    breakdown = [line for line in printed.split("where the time goes")[1].splitlines() if line.startswith(bench.OPS)]
    assert len(breakdown) == sum(row["status"] == "ok" and bool(row["op_seconds"]) for row in saved["rows"])
    assert all(line.split()[-1].endswith("%") for line in breakdown)


def test_csv_mirrors_json_rows(tiny_sweep):
    _, saved, csv_path, _, _ = tiny_sweep
    with csv_path.open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(saved["rows"])
    assert {f"ratio_{peer}" for peer in bench.PEERS.values()} <= set(table[0])
    assert [r["impl"] for r in table] == [r["impl"] for r in saved["rows"]]


def test_printed_table_lists_every_successful_row(tiny_sweep):
    _, saved, _, printed, _ = tiny_sweep
    assert "median ms" in printed and "x eigh" in printed
    table = printed.split("where the time goes")[0]
    table_lines = [line for line in table.splitlines() if line.startswith(bench.OPS)]
    assert len(table_lines) == sum(row["status"] == "ok" for row in saved["rows"])


def test_quick_preset_keeps_the_headline_case_and_options_override_it():
    settings, _ = bench.parse_args(["--quick"])
    assert (256, 64) in settings.shapes and "float32" in settings.dtypes
    assert {"fwd", "fwdbwd"} <= set(settings.ops)
    assert set(settings.methods) == {"auto", "matmul", bench.PAPER_MPA}
    assert set(bench.parse_args([])[0].methods) == {*matsqrt.METHODS, bench.PAPER_MPA, bench.SYNC_FREE}
    settings, _ = bench.parse_args(["--quick", "--shapes", "2x4", "--dtypes", "float64"])
    assert settings.shapes == ((2, 4),) and settings.dtypes == ("float64",)
    with pytest.raises(SystemExit):
        bench.parse_args(["--methods", "no-such-method"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--ops", "backward"])


def test_paper_mpa_pins_the_paper_settings():
    impl = bench.matsqrt_impl(bench.PAPER_MPA)
    assert (impl.method, impl.degree, impl.lyapunov_maxiter, impl.lyapunov_tol) == ("mpa", 5, 8, 0.0)
    assert bench.matsqrt_impl("mtp:7").degree == 7


# ----------------------------------------------------------------------------- the counter


def test_counter_sees_products_through_the_array_api_namespace():
    a = _spd(6, 10.0).view(CountingArray)
    assert array_namespace(a) is array_namespace(np.empty(0))
    with count_numpy_ops(6, 2, timed=True) as count:
        b, c = sign_step(a, a)
    assert count.products == pytest.approx(6)
    assert count.matmul_calls == 6
    assert count.seconds["matmul"] > 0 and "multiply" in count.seconds
    assert isinstance(b, CountingArray) and isinstance(c, CountingArray)


def test_counter_measures_the_degree_dependence_of_the_taylor_polynomial():
    a = _spd(5, 10.0).view(CountingArray)
    counts = {}
    for degree in (4, 8):
        with count_numpy_ops(5, 2) as count:
            matsqrt.sqrtm(a, "mtp", degree=degree)
        counts[degree] = count.products
    # Horner's rule: one product per extra degree, whatever the scaling costs.
    assert counts[8] - counts[4] == pytest.approx(4)


def test_counter_weighs_products_by_shape_and_counts_solves_per_matrix():
    a = _spd(4, 10.0, batch=3).view(CountingArray)
    v = np.ones((3, 4, 1)).view(CountingArray)
    xp = array_namespace(a)
    with count_numpy_ops(4, 3) as count:
        _ = a @ v  # a matrix-vector product is 1/n of an n^3 product
        xp.linalg.solve(a, a)
        np.linalg.eigh(np.asarray(a))
    assert count.products == pytest.approx(1 / 4)
    assert count.per_matrix("solve") == pytest.approx(1)
    assert count.per_matrix("eigh") == pytest.approx(1)


def test_counting_changes_no_result_and_restores_numpy():
    from numpy.linalg import _umath_linalg

    solve = _umath_linalg.solve
    a = _spd(7, 100.0)
    with count_numpy_ops(7, 2):
        counted = matsqrt.sqrtm(a.view(CountingArray), "mpa")
    assert np.array_equal(np.asarray(counted), matsqrt.sqrtm(a, "mpa"))
    assert _umath_linalg.solve is solve


# ----------------------------------------------------------------------------- the peers


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrt", "inv_sqrt"])
def test_eigh_peer_gradient_matches_finite_differences(inverse):
    rng = np.random.default_rng(1)
    a = _spd(4, 20.0, batch=1)[0]
    g = rng.standard_normal((4, 4))
    _, u, r = _peers.eigh_root(a, np, inverse=inverse)
    grad = _peers.eigh_root_vjp(u, r, g, np, inverse=inverse)

    def root(m):
        y = scipy.linalg.sqrtm(m)
        return np.linalg.inv(y) if inverse else y

    np.testing.assert_allclose(grad, frechet_fd(root, a, g), rtol=1e-6, atol=1e-8)
    # ...and the closed-form weights are the test helpers' Loewner matrices.
    lam, u = np.linalg.eigh(a)
    weights = inv_sqrt_weights(lam**-0.5) if inverse else sqrt_weights(np.sqrt(lam))
    np.testing.assert_allclose(grad, daleckii_krein(u, g, weights), rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrt", "inv_sqrt"])
def test_torch_peer_is_the_paper_method(inverse):
    """Accurate where the paper's settings are (condition number 2), and exactly the
    scalar Padé approximant on a multiple of the identity."""
    import torch

    a = _spd(6, 2.0, batch=2)
    g = np.random.default_rng(2).standard_normal(a.shape)
    leaf = torch.from_numpy(a).requires_grad_()
    y = _peers.torch_mpa_lya(leaf, inverse=inverse)
    y.backward(torch.from_numpy(g))
    ref = scipy.linalg.sqrtm(a)
    ref = np.linalg.inv(ref) if inverse else ref
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-5)
    _, u, r = _peers.eigh_root(a, np, inverse=inverse)
    expected = _peers.eigh_root_vjp(u, r, g, np, inverse=inverse)
    np.testing.assert_allclose(leaf.grad.numpy(), expected, rtol=1e-3, atol=1e-3)
    # sqrt(1 - z) at z = 1 - 1/sqrt(n) by the [5/5] Padé coefficients, for A = c I.
    n, c = 4, 9.0
    z = 1 - 1 / math.sqrt(n)
    pz = sum(p * z**k for k, p in enumerate(_peers.PAPER_PADE_P))
    qz = sum(q * z**k for k, q in enumerate(_peers.PAPER_PADE_Q))
    s = c * math.sqrt(n)
    scalar = math.sqrt(s) * pz / qz
    y = _peers.torch_mpa_lya(torch.full((n,), c, dtype=torch.float64).diag(), inverse=inverse)
    np.testing.assert_allclose(y.numpy(), np.eye(n) * (1 / scalar if inverse else scalar), rtol=1e-14)


def _torch_eigh_case(dtype, batch=3, n=7, kappa=50.0, seed=3):
    """Real symmetric or complex Hermitian positive definite input (distinct eigenvalues) and a general ``G``."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "c":
        a = bench.hermitian_batch(rng, batch, n, kappa)
        g = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
    else:
        a = bench.spd_batch(rng, batch, n, kappa)
        g = rng.standard_normal(a.shape)
    return a.astype(dtype), g.astype(dtype)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrt", "inv_sqrt"])
def test_torch_eigh_peer_agrees_with_the_eigh_oracle_and_its_gradient_with_ours(dtype, inverse):
    import torch
    from oracles import sym_eig

    a, g = _torch_eigh_case(dtype)
    leaf = torch.from_numpy(a).requires_grad_()
    y = _peers.torch_eigh_root(leaf, inverse=inverse)
    y.backward(torch.from_numpy(g))
    if np.iscomplexobj(a):
        # (the long-double oracle is for real input; complex Hermitian: NumPy's eigh in complex128)
        lam, u = np.linalg.eigh(a)
        values = lam**-0.5 if inverse else np.sqrt(lam)
        expected = (u * values[..., None, :]) @ np.conj(np.swapaxes(u, -1, -2))
    else:
        eig = sym_eig(a)
        expected = (eig.inv_sqrt() if inverse else eig.sqrt()).astype(np.float64)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=0, atol=1e-12)
    root_vjp = matsqrt.inv_sqrtm_vjp if inverse else matsqrt.sqrtm_vjp
    _, vjp = root_vjp(a)
    ours = vjp(g)
    # PyTorch's eigh backward is the gradient along Hermitian perturbations: the Hermitian part of ours.
    hermitian_part = (ours + np.conj(np.swapaxes(ours, -1, -2))) / 2
    np.testing.assert_allclose(leaf.grad.numpy(), hermitian_part, rtol=0, atol=1e-10 * np.abs(ours).max())
    assert not np.allclose(leaf.grad.numpy(), ours)  # G is not Hermitian: the two gradients differ


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("family", ["spd", "hermitian"])
def test_torch_eigh_peer_rows_run_with_the_references_and_counts(family):
    dtypes = "float32,float64" if family == "spd" else "complex64,complex128"
    argv = ["--backend", "numpy", "--family", family, "--methods", "auto", "--peers", "torch-eigh", "--shapes", "2x8",
            "--kappas", "100", "--dtypes", dtypes, "--ops", ",".join(bench.OPS), "--repeats", "2", "--warmup", "0",
            "--no-progress"]
    document, printed = _run_quiet(argv)
    assert document["settings"]["peers"] == ["torch-eigh"]
    peer = {(row["op"], row["dtype"]): row for row in document["rows"] if row["impl"] == "torch-eigh"}
    assert len(peer) == 2 * len(bench.OPS)
    for (op, dtype), row in peer.items():
        assert row["status"] == "ok", row["status"]
        tol = 1e-5 if dtype in ("float32", "complex64") else 1e-12
        assert row["fwd_err"] < tol
        assert (row["grad_err"] is None) == (op in FORWARD_OPS)
        if op not in FORWARD_OPS:
            assert row["grad_err"] < tol
        # measured below autograd: one eigh, and products in the backward too
        assert row["eighs"] == pytest.approx(1)
        assert row["count_source"] == "torch"
        assert row["products"] == pytest.approx(1) if op in FORWARD_OPS else row["products"] > 2
        assert document["threads"]["torch"] == document["threads"]["numpy"]
    auto = {(row["op"], row["dtype"]): row for row in document["rows"] if row["impl"] == "auto"}
    assert all(auto[key]["ratio"]["torch-eigh"] > 0 for key in peer)
    assert "x t-eigh" in printed and "FAILED" not in printed


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_torch_eigh_peer_refuses_general_input():
    argv = ["--backend", "numpy", "--family", "general", "--methods", "auto", "--peers", "torch-eigh", "--shapes",
            "2x8", "--kappas", "10", "--dtypes", "float64", "--ops", "fwd,fwdbwd", "--repeats", "2", "--warmup", "0",
            "--no-progress"]
    document, _ = _run_quiet(argv)
    rows = [row for row in document["rows"] if row["impl"] == "torch-eigh"]
    assert len(rows) == 2
    assert all(row["status"].startswith("refused: ValueError") and "Hermitian" in row["status"] for row in rows)


def test_peer_options_accept_option_and_row_names():
    assert bench._peer_names("torch-eigh") == ("torch-eigh",)
    assert bench._peer_names("eigh-dk,torch-mpa-lya,torch") == ("eigh", "torch")
    assert bench._peer_names("none") == ()
    assert set(bench.parse_args([])[0].peers) == set(bench.PEERS)
    with pytest.raises(SystemExit, match="unknown peer"):
        bench._peer_names("torch-eig")


def test_rows_of_another_library_are_timed_after_a_pause(monkeypatch):
    """Never two libraries back to back: OpenBLAS and OpenMP threads spin after a call."""
    pauses = []
    monkeypatch.setattr(bench.time, "sleep", pauses.append)
    peers = "eigh,scipy,torch-eigh" if HAS_TORCH else "eigh,scipy"
    argv = ["--backend", "numpy", "--methods", "auto", "--peers", peers, "--shapes", "2x4", "--kappas", "10",
            "--dtypes", "float64", "--ops", "fwd", "--repeats", "2", "--warmup", "0", "--no-progress"]
    document, _ = _run_quiet(argv)
    libraries = [{"scipy": "scipy", "torch-eigh": "torch"}.get(row["impl"], "numpy") for row in document["rows"]]
    changes = 1 + sum(x != y for x, y in zip(libraries[:-1], libraries[1:], strict=True))
    assert len(libraries) == (4 if HAS_TORCH else 3)
    assert pauses.count(bench._SETTLE) == changes


# ----------------------------------------------------------------------------- input families


def _run_quiet(argv):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        document = bench.run(argv)
    return document, buffer.getvalue()


@pytest.fixture(scope="module")
def general_sweep():
    """A few seconds of ``--family general``: the general methods, one that refuses, and the peers."""
    argv = ["--backend", "numpy", "--family", "general", "--methods", "auto,db,mtp", "--peers", "scipy,eigh",
            "--shapes", "2x8", "--dtypes", "float64,complex128", "--kappas", "10", "--ops", ",".join(bench.OPS),
            "--repeats", "2", "--warmup", "0", "--no-progress"]
    return _run_quiet(argv)


def test_general_family_rows_have_finite_errors_against_scipy_and_sylvester(general_sweep):
    document, printed = general_sweep
    assert document["settings"]["family"] == "general"
    rows = document["rows"]
    assert all(row["family"] == "general" for row in rows)
    by_impl = {(row["impl"], row["op"], row["dtype"]): row for row in rows}
    for dtype in ("float64", "complex128"):
        for name in ("auto", "db"):
            for op in bench.OPS:
                row = by_impl[name, op, dtype]
                assert row["status"] == "ok", row["status"]
                assert row["fwd_err"] < 1e-12
                assert (row["grad_err"] is None) == (op in FORWARD_OPS)
                if op not in FORWARD_OPS:
                    assert row["grad_err"] < 1e-12
        scipy_row = by_impl["scipy", "fwd", dtype]
        assert scipy_row["status"] == "ok" and scipy_row["fwd_err"] < 1e-12
        assert by_impl["auto", "fwd", dtype]["ratio"]["scipy"] > 0
        # auto runs SciPy's Schur method here (not countable); db's products are counted
        assert by_impl["auto", "fwd", dtype]["products"] is None
        assert by_impl["db", "fwdbwd", dtype]["products"] > by_impl["db", "fwd", dtype]["products"] > 0
    assert "inputs: --family general" in printed and "solve_sylvester" in printed
    assert "FAILED" not in printed


def test_refusals_of_general_input_are_rows_not_failures(general_sweep):
    document, printed = general_sweep
    refused = [row for row in document["rows"] if row["status"] != "ok"]
    assert {row["impl"] for row in refused} == {"mtp", "eigh-dk"}
    assert all(row["status"].startswith("refused: ValueError") for row in refused)
    assert all(row["time_median_s"] is None for row in refused)
    # mtp's own refusal is recorded; the eigh peer, which would not refuse, is not run
    assert all("Hermitian" in row["status"] for row in refused if row["impl"] == "mtp")
    assert sum(line.startswith("REFUSED ") for line in printed.splitlines()) == 2
    table = [line for line in printed.splitlines() if line.startswith(bench.OPS)]
    assert len(table) == sum(row["status"] == "ok" for row in document["rows"])


def test_hermitian_family_runs_complex_dtypes_with_the_eigh_peer():
    argv = ["--backend", "numpy", "--family", "hermitian", "--methods", "auto", "--peers", "eigh,scipy,torch",
            "--shapes", "2x8", "--kappas", "100", "--ops", "fwd,fwdbwd,invfwdbwd", "--repeats", "2", "--warmup", "0",
            "--no-progress"]
    document, printed = _run_quiet(argv)
    rows = document["rows"]
    assert {row["dtype"] for row in rows} == {"complex64", "complex128"}  # the default dtypes, complex
    ok = [row for row in rows if row["status"] == "ok"]
    assert {row["impl"] for row in ok} == {"auto", "eigh-dk", "scipy"}
    # the PyTorch MPA-Lya is for real input: refused, not failed
    assert all(row["status"].startswith("refused: ") for row in rows if row["impl"] == "torch-mpa-lya")
    for row in ok:
        tol = 1e-12 if row["dtype"] == "complex128" else 1e-5
        assert row["fwd_err"] < tol
        if row["grad_err"] is not None:
            # complex64 eigendecompositions in single precision: the contract's 4 sqrt(n) u kappa for gradients
            bound = 4 * math.sqrt(8) * float(np.finfo(np.float32).eps) * 100
            assert row["grad_err"] < (tol if row["dtype"] == "complex128" else bound)
    by_impl = {(row["impl"], row["op"], row["dtype"]): row for row in ok}
    assert by_impl["auto", "fwdbwd", "complex128"]["eighs"] == pytest.approx(1)  # auto runs eigh
    assert by_impl["auto", "fwd", "complex64"]["ratio"]["eigh-dk"] > 0
    assert "FAILED" not in printed


def test_family_inputs():
    rng = np.random.default_rng(5)
    for complex_ in (False, True):
        a = bench.general_batch(rng, 3, 9, 1e3, complex_)
        assert np.iscomplexobj(a) == complex_
        lam = np.linalg.eigvals(a)
        moduli = np.sort(np.abs(lam), axis=-1)
        assert np.all(lam.real > 0)
        assert np.all(np.abs(np.angle(lam)) <= bench.GENERAL_MAX_ANGLE + 1e-8)
        assert np.all(moduli[..., -1] <= 1 + 1e-8) and np.all(moduli[..., 0] >= 1e-3 * (1 - 1e-8))
        ah = np.conj(np.swapaxes(a, -1, -2))
        assert np.linalg.norm(a @ ah - ah @ a) > 0.1 * np.linalg.norm(a @ ah)  # far from normal
    h = bench.hermitian_batch(rng, 2, 6, 50.0)
    assert np.iscomplexobj(h) and np.abs(h.imag).max() > 0.1
    np.testing.assert_allclose(h, np.conj(np.swapaxes(h, -1, -2)), atol=0)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), np.broadcast_to(np.logspace(-math.log10(50), 0, 6), (2, 6)),
                               rtol=1e-12)


def test_spd_family_draws_the_same_inputs_as_before():
    """The default family is unchanged: the SPD batch, then the upstream gradient, from the same generator."""
    a, g = bench.family_case("spd", np.random.default_rng(9), 2, 5, 10.0, "float32")
    rng = np.random.default_rng(9)
    expected_a = bench.spd_batch(rng, 2, 5, 10.0).astype("float32")
    np.testing.assert_array_equal(a, expected_a)
    np.testing.assert_array_equal(g, rng.standard_normal((2, 5, 5)).astype("float32"))


def test_family_options_and_dtypes():
    settings, _ = bench.parse_args(["--family", "hermitian", "--quick"])
    assert settings.family == "hermitian" and settings.dtypes == ("complex64",)
    assert bench.parse_args([])[0].family == "spd"
    for argv in (["--dtypes", "complex128"], ["--family", "hermitian", "--dtypes", "float64"],
                 ["--family", "no-such-family"]):
        with pytest.raises(SystemExit):
            with contextlib.redirect_stderr(io.StringIO()):
                bench.parse_args(argv)


def _complex_fd(f, a, g, h=1e-6):
    """Central differences of Re <G, f(A)> along each real and imaginary entry: PyTorch's complex gradient."""
    grad = np.zeros(a.shape, dtype=complex)
    for idx in np.ndindex(*a.shape):
        for unit in (1.0, 1j):
            e = np.zeros(a.shape, dtype=complex)
            e[idx] = h * unit
            step = np.real(np.sum(np.conj(g) * (f(a + e) - f(a - e)))) / (2 * h)
            grad[idx] += step * unit
    return grad


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrt", "inv_sqrt"])
def test_reference_gradients_of_general_and_hermitian_input(inverse):
    rng = np.random.default_rng(4)

    def root(m):
        y = scipy.linalg.sqrtm(m)
        return np.linalg.inv(y) if inverse else y

    # real general input: the Sylvester reference against finite differences
    a = bench.general_batch(rng, 1, 4, 10.0)
    g = rng.standard_normal(a.shape)
    ref = bench.Reference(a, g, general=True)
    np.testing.assert_allclose(ref.gradient(inverse)[0], frechet_fd(root, a[0], g[0]), rtol=1e-6, atol=1e-8)
    # complex general input, PyTorch's convention (conjugate transposes)
    a, g = bench.family_case("general", rng, 1, 4, 10.0, "complex128")
    ref = bench.Reference(a, g, general=True)
    np.testing.assert_allclose(ref.gradient(inverse)[0], _complex_fd(root, a[0], g[0]), rtol=1e-6, atol=1e-8)
    # complex Hermitian input: the Daleckii-Krein gradient (the eigh peer's) is the Sylvester solution
    a, g = bench.family_case("hermitian", rng, 2, 5, 20.0, "complex128")
    dk = bench.Reference(a, g).gradient(inverse)
    np.testing.assert_allclose(dk, bench.Reference(a, g, general=True).gradient(inverse), rtol=1e-10, atol=1e-12)
    y, u, r = bench.eigh_root(a, array_namespace(a), inverse=inverse)
    np.testing.assert_allclose(y, bench.Reference(a, g).root(inverse), rtol=1e-10, atol=1e-12)
