#!/usr/bin/env bash
# Every GPU figure of the README in one run (issue 15): training images/s, MFU and host syncs per
# step (train_speed), top-down inference latency under the speed options, DOPE inference / NMS /
# PPI (dope_speed, dope_post_speed), DOPE real-time mode with fused BN / channels-last
# (dope_realtime_profile).  Needs ../shared/fixtures (or WHOLEBODY_FIXTURES=DIR) and a CUDA torch.
#   bash benchmarks/gpu_all.sh OUT_DIR            # on a GPU machine
#   DEVICE=cpu TINY=--tiny bash benchmarks/gpu_all.sh OUT_DIR   # the same steps, tiny, on a CPU
# BUDGET_S (default 540 on CUDA, none on a CPU): steps that would start past it are skipped, a running one is cut at it.
set -u
out=${1:?usage: gpu_all.sh OUT_DIR}
device=${DEVICE:-cuda}
tiny=${TINY:-}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
budget=${BUDGET_S:-$([ "$device" = cuda ] && echo 540 || echo 100000)}  # wall-clock budget (s) of the whole script: a session's device time is short
run() {  # one measurement; a failure is logged and the next one still runs
  local limit=$1; shift
  local left=$((budget - SECONDS))
  if [ "$left" -lt 30 ]; then echo "=== SKIPPED (time budget of ${budget} s spent): $*"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $*"
  timeout "$limit" "$py" "$@" || echo "=== FAILED (status $?): $*"
  echo "=== ${SECONDS} s since the start"
}
if [ "$device" = cuda ]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; fi
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
small_batch=$([ -n "$tiny" ] && echo 2 || echo 64)
timing=$([ -n "$tiny" ] && echo "--repeats 5 --warmup 2" || echo "--repeats 20 --warmup 5")  # eager inference steps
run 150 benchmarks/train_speed.py --arch hrnet133 --device "$device" $tiny --batch "$small_batch" --steps 20 --json "$out/train-hrnet133.json"
run 150 benchmarks/train_speed.py --arch zoomnet --device "$device" $tiny --batch "$small_batch" --steps 20 --json "$out/train-zoomnet.json"
run 120 benchmarks/train_speed.py --arch dope --device "$device" $tiny --batch "$([ -n "$tiny" ] && echo 2 || echo 8)" --steps 10 --json "$out/train-dope.json"
run 120 benchmarks/train_speed.py --arch dope --device "$device" $tiny --batch "$([ -n "$tiny" ] && echo 2 || echo 8)" --steps 10 --channels-last --json "$out/train-dope-channels-last.json"
# top-down inference, cuDNN autotuning on (issue 15's setting): plain / fused / channels-last / bf16 on
# fixed RoIs, RoIs decoded inside, flip test in two passes vs one batched pass (ms, ops, kernels, syncs)
run 120 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device "$device" $tiny $timing --json "$out/infer-zoomnet-b1.json"
# ... and with autotuning off (what our earlier 113 ms "plain" ran with)
run 60 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device "$device" $tiny --variants plain,fused+cl --cudnn-benchmark off $timing --json "$out/infer-zoomnet-b1-cudnn-off.json"
run 100 benchmarks/topdown_speed_options.py --arch hrnet133 --batch 32 --device "$device" $tiny $timing --json "$out/infer-hrnet133-b32.json"
run 120 benchmarks/dope_speed.py --device "$device" --repeats "$([ -n "$tiny" ] && echo 1 || echo 10)" --train-steps 0
# DOPE post-processing on the output's device against the numpy path it replaced, both anchor layouts
run 120 benchmarks/dope_post_speed.py --device "$device" --anchors centre --baseline --repeats 10
run 120 benchmarks/dope_post_speed.py --device "$device" --anchors spread --baseline --repeats 10
# DOPE real-time mode: plain / fused BN / fused + channels-last; ms, norm passes, kernels, host syncs
run 150 benchmarks/dope_realtime_profile.py --device "$device" $tiny --repeats 20 --json "$out/dope-realtime.json"
# the top-down data pipeline on this host's own cores (workers per GPU for the training targets)
run 90 benchmarks/data_speed.py --arch hrnet133 --workers 8 --batch 32 --batches 6 --rounds 1 --json "$out/data-hrnet133-w8.json"
# last: compiling can take minutes; CUDA graphs only on CUDA.
# ZoomNet batch 1 as CUDA graphs, each compile in its own step (a slow one cannot cost the others), the
# most wanted first: whole inference with the RoI decode inside under bf16 (issue 15's <= 10 ms target),
# then the one-pass flip-test prediction under bf16
if [ "$device" = cuda ]; then
  run 180 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device cuda --variants compiled-decode+bf16 --compile reduce-overhead --repeats 30 --warmup 10 --json "$out/infer-zoomnet-b1-graphs-decode-bf16.json"
  run 180 benchmarks/topdown_speed_options.py --arch zoomnet --batch 1 --device cuda --variants compiled-flip+bf16 --compile reduce-overhead --repeats 30 --warmup 10 --json "$out/infer-zoomnet-b1-graphs-flip-bf16.json"
  # training under torch.compile (train --compile), if the budget still allows: HRNet-133, channels-last
  run 200 benchmarks/train_speed.py --arch hrnet133 --device cuda --batch 64 --steps 10 --warmup 3 --channels-last --compile --json "$out/train-hrnet133-compiled.json"
else
  echo "=== skipped on $device: the CUDA-graph (reduce-overhead) inference steps"
fi
echo "=== done"
