#!/usr/bin/env bash
# On the GPU machine (no package registry there): install greenai offline from the wheel folder
# that fetch_wheels.sh filled and that travelled with the tree, then run the validation kit.
#
#   bash benchmarks/device/run.sh [WHEELS_DIR] [validate.py options ...]    # WHEELS_DIR: .whl
#
# Results: in $OUT when the device tool sets it (validate.log, summary.json, probe.txt and
# device-results.tar.gz holding every disclosure), else in results/device. Exit code: the kit's
# (0 all checks passed, 1 a check failed), 3 when the offline install failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
wheels="${1:-.whl}"
[ $# -gt 0 ] && shift
out="${OUT:-results/device}"
work="$(mktemp -d)/device"
export PYTHONUNBUFFERED=1 GREENAI_NVML=on
mkdir -p "$out"

echo "installing greenai from $wheels (offline) ..."
python3 -m pip install -q --no-index --no-cache-dir --find-links "$wheels" greenai 2>&1 |
  tee "$out/install.log"
if ! (cd / && python3 -c "import greenai, jsonschema"); then
  echo "offline install failed (see above): a wheel is missing from $wheels; run" \
    "benchmarks/device/fetch_wheels.sh $wheels $(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    "where PyPI is reachable" >&2
  exit 3
fi
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi --query-gpu=index,name,driver_version,power.draw,power.limit --format=csv || true

python3 benchmarks/device/validate.py --out "$work" "$@" 2>&1 | tee "$out/validate.log"
rc=${PIPESTATUS[0]}
cp "$work/summary.json" "$work/probe.txt" "$out/" 2>/dev/null || true
tar -czf "$out/device-results.tar.gz" -C "$(dirname "$work")" device
echo "validate.py exit code $rc; results in $out"
exit "$rc"
