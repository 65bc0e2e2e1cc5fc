# Sourced by the GPU scripts: unbuffered Python, this checkout's src/ on the path, and the wheels the
# GPU image lacks (gymnasium; see gpu_run.sh for how .whl/ is filled) installed beside it.
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD/src:/tmp/site"
else
    export PYTHONPATH="$PWD/src"
fi
