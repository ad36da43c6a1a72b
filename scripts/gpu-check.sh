#!/usr/bin/env bash
# gpu-check.sh runs the ViLT GPU checks (issue 17) on a CUDA machine that has no Go toolchain and no network,
# from the folder that `make gpu-kit` builds: the HuggingFace parity tests and the ViLT-B/32 forward and
# training-step benchmarks on XLA through JAX's CUDA PJRT plugin, the eager PyTorch baseline in float32 and
# bfloat16, a short `vqa train` of the base preset on data/vqav2-mini, and the versions of everything involved.
# Every step has a timeout and the whole run a budget (later steps are cut or skipped), so that one call of the
# device tool stays well under its 10 minutes. docs/real-data.md says how to run it there.
#
# Run from the repository root:
#
#   scripts/gpu-check.sh        # everything
#   scripts/gpu-check.sh -n     # dry run: find the kit, the plugin, the NVIDIA libraries; print the steps
#
# Logs go to $OUT (default /tmp/gpu-check): check.txt (environment, versions, summary), parity.txt,
# bench-go.txt (float32 without TF32, like the parity tests), bench-go-tf32.txt (go-xla's CUDA default, TF32
# matmuls), torch.jsonl, torch-bf16.jsonl, train.txt.
#
# Environment (defaults in brackets):
#   PYTHON                  the Python holding PyTorch and JAX's CUDA plugin [python3]
#   GPU_CHECK_KIT           the kit folder [gpu-kit]
#   GPU_CHECK_PLUGIN        the CUDA PJRT plugin [xla_cuda_plugin.so or pjrt_c_api_cuda_plugin.so under sys.path]
#   GPU_CHECK_BACKEND       GOMLX_BACKEND for every Go step instead of xla:<plugin> (e.g. go: try it without a GPU)
#   GPU_CHECK_TORCH_DEVICE  torch_vilt_bench.py's --device [cuda]
#   GPU_CHECK_TORCH_RUNS    torch_vilt_bench.py's --runs [20]
#   GPU_CHECK_BENCHTIME     the Go benchmarks' -test.benchtime [20x]
#   GPU_CHECK_TRAIN_STEPS   optimizer steps of the `vqa train` run [30]
#   GPU_CHECK_BUDGET        seconds for the whole run [360]
set -uo pipefail

dry=false
case "${1:-}" in
-n) dry=true ;;
"") ;;
*) echo "usage: $0 [-n]" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
KIT=${GPU_CHECK_KIT:-gpu-kit}
TORCH_DEVICE=${GPU_CHECK_TORCH_DEVICE:-cuda}
TORCH_RUNS=${GPU_CHECK_TORCH_RUNS:-20}
BENCHTIME=${GPU_CHECK_BENCHTIME:-20x}
TRAIN_STEPS=${GPU_CHECK_TRAIN_STEPS:-30}
BUDGET=${GPU_CHECK_BUDGET:-360}
LOGS=${OUT:-/tmp/gpu-check}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$LOGS"
CHECK=$LOGS/check.txt
: >"$CHECK"

if [ ! -f go.mod ] || [ ! -d vqa/vilt ]; then
	echo "gpu-check: run from the repository root" >&2
	exit 2
fi
for f in vilt.test.xz vqa.xz fixtures.tar.xz torch_vilt_bench.py MANIFEST.txt; do
	[ -f "$KIT/$f" ] || { echo "gpu-check: $KIT/$f missing: run make gpu-kit and carry $KIT" >&2; exit 2; }
done

# note prints its arguments and appends them to check.txt.
note() { echo "$*" | tee -a "$CHECK"; }

summary=()
# step NAME LOG TIMEOUT CMD... runs CMD with its output appended to LOG, for at most TIMEOUT seconds and never
# past the budget, and records the outcome and the seconds taken in the summary.
step() {
	local name=$1 log=$2 limit=$3
	shift 3
	local left=$((BUDGET - SECONDS))
	if ((left < 15)); then
		summary+=("$(printf '%-11s %s' "$name" "skipped: the ${BUDGET}s budget is spent")")
		return
	fi
	((limit > left)) && limit=$left
	echo "== $name (timeout ${limit}s): $*" | tee -a "$log"
	if $dry; then
		summary+=("$(printf '%-11s %s' "$name" "dry run")")
		return
	fi
	local t0=$SECONDS rc=0 how=ok
	timeout -k 10 "$limit" "$@" >>"$log" 2>&1 || rc=$?
	if ((rc == 124 || rc == 137)); then
		how="timed out"
	elif ((rc != 0)); then
		how="failed (exit $rc)"
	fi
	summary+=("$(printf '%-11s %-18s %4ds  %s' "$name" "$how" $((SECONDS - t0)) "${log##*/}")")
}

note "== gpu-check $(date -u +%FT%TZ) on $(uname -srm)"
note "-- kit $KIT:"
tee -a "$CHECK" <"$KIT/MANIFEST.txt"

# Python's library folders: JAX's plugin and the NVIDIA libraries of the nvidia-* pip packages live there.
mapfile -t sitedirs < <("$PYTHON" -c 'import os, site, sys
dirs = sys.path + site.getsitepackages() + [site.getusersitepackages()]
print(*(d for d in dict.fromkeys(dirs) if os.path.isdir(d)), sep="\n")')
note "-- $PYTHON ($(command -v "$PYTHON")): $("$PYTHON" --version 2>&1); sys.path folders: ${sitedirs[*]}"

plugins=()
if ((${#sitedirs[@]})); then
	mapfile -t plugins < <(find "${sitedirs[@]}" -maxdepth 3 \( -name xla_cuda_plugin.so -o -name pjrt_c_api_cuda_plugin.so \) 2>/dev/null | sort -u)
fi
note "-- CUDA PJRT plugins found: ${plugins[*]:-none}"
plugin=${GPU_CHECK_PLUGIN:-${plugins[0]:-}}
[ -z "$plugin" ] || plugin=$(realpath "$plugin")

nvlibs=()
nvroots=()
for d in "${sitedirs[@]}"; do
	for l in "$d"/nvidia/*/lib; do [ -d "$l" ] && nvlibs+=("$l") && nvroots+=("${l%/lib}"); done
done
if ((${#nvlibs[@]})); then
	LD_LIBRARY_PATH=$(IFS=:; echo "${nvlibs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export LD_LIBRARY_PATH
fi
note "-- LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

# XLA compiles its GPU kernels with libdevice and ptxas (or the NVIDIA JIT libraries). go-xla points
# --xla_gpu_cuda_data_dir only at a nvidia/ folder beside its own installer's layout, not at a pip tree, so point
# it at the first CUDA folder with libdevice here, and put a ptxas on PATH if none is.
libdevice=$(find "${nvroots[@]}" /usr/local/cuda/ -maxdepth 3 -path '*/nvvm/libdevice/libdevice.10.bc' 2>/dev/null | head -n 1)
if [ -n "$libdevice" ] && [[ "${XLA_FLAGS:-}" != *--xla_gpu_cuda_data_dir* ]]; then
	XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_gpu_cuda_data_dir=${libdevice%/nvvm/libdevice/libdevice.10.bc}"
	export XLA_FLAGS
fi
if ! command -v ptxas >/dev/null; then
	ptxas=$(find "${nvroots[@]}" /usr/local/cuda/ -maxdepth 2 -path '*/bin/ptxas' 2>/dev/null | head -n 1)
	[ -z "$ptxas" ] || PATH=${ptxas%/ptxas}:$PATH
fi
note "-- XLA_FLAGS=${XLA_FLAGS:-}; ptxas: $(command -v ptxas || echo none)"

if [ -n "${GPU_CHECK_BACKEND:-}" ]; then
	fp32=$GPU_CHECK_BACKEND
	tf32=
elif [ -n "$plugin" ]; then
	fp32="xla:$plugin,tf32=false"
	tf32="xla:$plugin"
else
	note "gpu-check: no CUDA PJRT plugin under ${sitedirs[*]}: set GPU_CHECK_PLUGIN (or GPU_CHECK_BACKEND)"
	exit 1
fi
note "-- GOMLX_BACKEND: $fp32 (parity, float32 benchmarks)${tf32:+; $tf32 (TF32 benchmarks, vqa train)}"

step nvidia-smi "$CHECK" 30 nvidia-smi
step packages "$CHECK" 60 "$PYTHON" -m pip list --disable-pip-version-check
if ! $dry; then
	"$PYTHON" - "$KIT" "$WORK" <<'EOF' || { note "gpu-check: unpacking $KIT failed"; exit 1; }
import lzma, os, shutil, sys, tarfile
kit, work = sys.argv[1:]
for name in ("vilt.test", "vqa"):
    with lzma.open(os.path.join(kit, name + ".xz")) as src, open(os.path.join(work, name), "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(os.path.join(work, name), 0o755)
with tarfile.open(os.path.join(kit, "fixtures.tar.xz")) as t:
    t.extractall(os.path.join(work, "fixtures", "vilt"), **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
EOF
fi

# The plugin's PJRT C API version (go-xla's own is in the kit's MANIFEST.txt) and the devices.
step backend "$CHECK" 90 env GOMLX_BACKEND="${tf32:-$fp32}" "$WORK/vqa" backend
# CI=1: a missing fixture folder fails the tests instead of skipping them.
step parity "$LOGS/parity.txt" 180 env -C vqa/vilt CI=1 VQA_FIXTURES="$WORK/fixtures" GOMLX_BACKEND="$fp32" \
	"$WORK/vilt.test" -test.run 'TestParity|TestExportRoundTrip' -test.count 1 -test.v -test.timeout 170s
step bench-go "$LOGS/bench-go.txt" 180 env -C vqa/vilt GOMLX_BACKEND="$fp32" \
	"$WORK/vilt.test" -test.run '^$' -test.bench 'ViLTB32|DenseB32' -test.benchtime "$BENCHTIME" -test.benchmem
step torch-fp32 "$LOGS/torch.jsonl" 90 "$PYTHON" "$KIT/torch_vilt_bench.py" --device "$TORCH_DEVICE" --runs "$TORCH_RUNS"
step torch-bf16 "$LOGS/torch-bf16.jsonl" 90 "$PYTHON" "$KIT/torch_vilt_bench.py" --device "$TORCH_DEVICE" --runs "$TORCH_RUNS" --dtype bfloat16
if [ -n "$tf32" ]; then
	step bench-tf32 "$LOGS/bench-go-tf32.txt" 150 env -C vqa/vilt GOMLX_BACKEND="$tf32" \
		"$WORK/vilt.test" -test.run '^$' -test.bench 'ViLTB32/(fwd_b4|train_b4)|DenseB32' -test.benchtime "$BENCHTIME" -test.benchmem
fi
step train "$LOGS/train.txt" 150 env GOMLX_BACKEND="${tf32:-$fp32}" "$WORK/vqa" train -preset base -data data/vqav2-mini \
	-labels data/vilt-b32-finetuned-vqa/config.json -max-steps "$TRAIN_STEPS" -no-shuffle -checkpoint-every 0 \
	-log-every 0 -quiet -out "$WORK/train"

{
	echo "== summary ($SECONDS s of the ${BUDGET}s budget; logs in $LOGS)"
	printf '%s\n' "${summary[@]}"
	if ! $dry; then
		[ -z "$tf32" ] || echo "-- PJRT C API: go-xla $(sed -n 's/^go-xla PJRT C API //p' "$KIT/MANIFEST.txt"), plugin $(grep -o 'plugin ([^)]*) v[0-9.]*' "$CHECK" | head -n 1 | sed 's/.* v//')"
		grep -h -E '^(--- (PASS|FAIL|SKIP)|FAIL|ok|PASS|panic)' "$LOGS/parity.txt" 2>/dev/null
		for f in "$LOGS"/bench-go*.txt; do
			[ ! -f "$f" ] || { echo "-- ${f##*/}"; grep -E '^Benchmark' "$f"; }
		done
		grep -h '^{' "$LOGS"/torch*.jsonl 2>/dev/null
		grep -h 'examples/s' "$LOGS/train.txt" 2>/dev/null
	fi
} | tee -a "$CHECK"
