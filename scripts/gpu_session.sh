#!/usr/bin/env bash
# One call on a CUDA machine: the GPU benchmark, kernel profiles, a CUDA-graph probe, the test suite with CuPy.
#
#   bash scripts/gpu_session.sh OUTDIR [bench,profile,graph,tests]
#
# The machine has CuPy, PyTorch, JAX, SciPy and Hypothesis but no array-api-compat
# or array-api-strict: their wheels travel in .whl/ (pip download --no-deps ... -d .whl).
# Set BENCH_ARGS to change the sweep.
set -u
OUT=${1:?usage: gpu_session.sh OUTDIR [parts]}
PARTS=${2:-bench,profile,tests}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import cupy, torch, numpy, scipy, hypothesis, jax, array_api_compat as c
print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__,
      'hypothesis', hypothesis.__version__, 'jax', jax.__version__, 'array_api_compat', c.__version__)" \
    | tee -a "$OUT/gpu.txt"

DEFAULT_BENCH="--methods paper-mpa,matmul,auto --peers eigh,torch --dtypes float32,float64
  --shapes 256x64,64x128,16x256,4x1024 --kappas 1e1 --ops fwd,fwdbwd"
if [[ $PARTS == *bench* ]]; then
    # shellcheck disable=SC2086
    timeout "${BENCH_SECONDS:-270}" python3 -m matsqrt.bench --backend cupy ${BENCH_ARGS:-$DEFAULT_BENCH} \
        --no-progress --breakdown --json "$OUT/" 2>&1 | tee "$OUT/bench.txt"
fi
if [[ $PARTS == *profile* ]]; then
    timeout "${PROFILE_SECONDS:-100}" python3 scripts/gpu_profile.py "$OUT/traces" 2>&1 | tee "$OUT/profile.txt"
    tar czf "$OUT/traces.tgz" -C "$OUT" traces && rm -rf "$OUT/traces"
fi
if [[ $PARTS == *graph* ]]; then
    timeout 60 python3 scripts/gpu_graph_probe.py 2>&1 | tee "$OUT/graph.txt"
fi
if [[ $PARTS == *tests* ]]; then
    timeout "${TEST_SECONDS:-200}" python3 -m pytest tests -n 8 -q -p no:cacheprovider --timeout 120 \
        --ignore=tests/test_notebooks.py ${TEST_ARGS:-} 2>&1 | tee "$OUT/pytest.txt"
fi
