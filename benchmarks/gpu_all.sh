#!/usr/bin/env bash
# Every GPU figure of the README in one run (issue 15): training images/s, MFU and host syncs per
# step (train_speed), top-down inference latency under the speed options, DOPE inference / NMS /
# PPI (dope_speed, dope_post_speed), DOPE real-time mode with fused BN / channels-last
# (dope_realtime_profile).  Needs ../shared/fixtures (or WHOLEBODY_FIXTURES=DIR) and a CUDA torch.
#   bash benchmarks/gpu_all.sh OUT_DIR            # on a GPU machine
#   DEVICE=cpu TINY=--tiny bash benchmarks/gpu_all.sh OUT_DIR   # the same steps, tiny, on a CPU
set -u
out=${1:?usage: gpu_all.sh OUT_DIR}
device=${DEVICE:-cuda}
tiny=${TINY:-}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
run() {  # one measurement; a failure is logged and the next one still runs
  local limit=$1; shift
  echo "=== $*"
  timeout "$limit" "$py" "$@" || echo "=== FAILED (status $?): $*"
}
if [ "$device" = cuda ]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; fi
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
small_batch=$([ -n "$tiny" ] && echo 2 || echo 64)
run 150 benchmarks/train_speed.py --arch hrnet133 --device "$device" $tiny --batch "$small_batch" --steps 20 --json "$out/train-hrnet133.json"
run 150 benchmarks/train_speed.py --arch zoomnet --device "$device" $tiny --batch "$small_batch" --steps 20 --json "$out/train-zoomnet.json"
run 120 benchmarks/train_speed.py --arch dope --device "$device" $tiny --batch "$([ -n "$tiny" ] && echo 2 || echo 8)" --steps 10 --json "$out/train-dope.json"
run 120 benchmarks/train_speed.py --arch dope --device "$device" $tiny --batch "$([ -n "$tiny" ] && echo 2 || echo 8)" --steps 10 --channels-last --json "$out/train-dope-channels-last.json"
run 100 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device "$device" $tiny --repeats 30 --warmup 5 --json "$out/infer-zoomnet-b1.json"
run 100 benchmarks/topdown_speed_options.py --arch hrnet133 --batch 32 --device "$device" $tiny --repeats 20 --warmup 5 --json "$out/infer-hrnet133-b32.json"
run 120 benchmarks/dope_speed.py --device "$device" --repeats "$([ -n "$tiny" ] && echo 1 || echo 10)" --train-steps 0
# DOPE post-processing on the output's device against the numpy path it replaced, both anchor layouts
run 120 benchmarks/dope_post_speed.py --device "$device" --anchors centre --baseline --repeats 10
run 120 benchmarks/dope_post_speed.py --device "$device" --anchors spread --baseline --repeats 10
# DOPE real-time mode: plain / fused BN / fused + channels-last; ms, norm passes, kernels, host syncs
run 150 benchmarks/dope_realtime_profile.py --device "$device" $tiny --repeats 20 --json "$out/dope-realtime.json"
# last: compiling can take minutes; CUDA graphs only on CUDA
if [ "$device" = cuda ]; then
  run 200 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device cuda --repeats 30 --warmup 10 --compile reduce-overhead --json "$out/infer-zoomnet-b1-graphs.json"
fi
echo "=== done"
