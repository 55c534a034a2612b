#!/usr/bin/env bash
# Downloads, here where PyPI is reachable, every wheel greenai needs on a GPU machine that has
# no package registry (not torch, which that machine has), into one folder that travels with it.
#
#   benchmarks/device/fetch_wheels.sh DIR [PYTHON_VERSION ...]    # default: 3.10 3.11 3.12
#
# Linux x86_64 (manylinux) wheels only. Packages listed in preinstalled.txt beside this script
# (the GPU image already holds them, and they are the bulk: numpy, pandas, matplotlib, ...) are
# left out so the folder fits the 64 MiB the device tool carries; GREENAI_WHEELS_FULL=1 keeps
# them (then about 75 MB per Python version). Re-running it into the same DIR is safe.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${1:?usage: fetch_wheels.sh DIR [PYTHON_VERSION ...]}"
shift
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.11 3.12)
pip=(python3 -m pip)
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

rm -f "$dir"/greenai-*.whl
"${pip[@]}" wheel -q --no-deps -w "$dir" "$repo"
greenai_wheel=$(ls "$dir"/greenai-*.whl)
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
  manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux2010_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
for v in "${versions[@]}"; do
  echo "resolving greenai's dependencies for CPython $v, linux x86_64 ..."
  "${pip[@]}" download -q --dest "$dir" --only-binary=:all: --implementation cp \
    --python-version "$v" "${platforms[@]}" "$greenai_wheel"
done

if [ "${GREENAI_WHEELS_FULL:-0}" != 1 ]; then
  while read -r name _; do
    [ -n "$name" ] && [ "${name#\#}" = "$name" ] || continue
    # wheel names spell '-' as '_' and keep the case of the project name
    find "$dir" -maxdepth 1 -iname "${name//-/_}-[0-9]*.whl" -delete
  done <"$here/preinstalled.txt"
fi
size_kib=$(du -sk "$dir" | cut -f1)
echo "$(ls "$dir"/*.whl | wc -l) wheels, $((size_kib / 1024)) MiB in $dir"
if [ "$size_kib" -gt $((64 * 1024)) ]; then
  echo "warning: over the 64 MiB the device tool carries; pass fewer Python versions" >&2
fi
