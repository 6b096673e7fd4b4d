"""Speed options (``wholebody.nn.speed``): fused conv + BN, channels-last, bf16 convolutions,
torch.compile, and ZoomNet's RoI path doing the same work whatever the batch size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from op_counter import OpCounter
from wholebody.models.dope.network import dope_tiny
from wholebody.models.registry import build_model
from wholebody.nn.blocks import FrozenBatchNorm2d
from wholebody.nn.speed import channels_last_input, compile_model, fuse_conv_bn, to_channels_last

torch.set_num_threads(1)
SIZE = (128, 96)


def randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Batch norms with non-trivial statistics and affine terms, so that fusing has work to do."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, FrozenBatchNorm2d)):
            n = module.running_mean.shape[0]
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            with torch.no_grad():
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model.eval()


def networks():
    """(name, model, call) for each network kind; ZoomNet gets fixed RoIs so outputs are comparable."""
    torch.manual_seed(0)
    rois = torch.tensor([[[20.0, 10, 60, 50], [5, 40, 35, 70], [50, 40, 90, 80]]]).repeat(2, 1, 1)
    return [
        ("hrnet133", build_model("hrnet133", tiny=True, input_size=SIZE), lambda m, x: m(x)["wholebody"]),
        ("zoomnet", build_model("zoomnet", tiny=True, input_size=SIZE),
         lambda m, x: torch.cat([m(x, rois=rois)[k].flatten() for k in ("body", "face", "lefthand", "righthand")])),
        ("dope backbone", dope_tiny().backbone, lambda m, x: m.forward_to_layer3(x / 255)),
    ]


@pytest.mark.parametrize("index", range(3))
def test_fused_conv_bn_matches_eval_mode(index):
    name, model, call = networks()[index]
    randomise_norms(model)
    images = torch.rand(2, 3, *SIZE) * 255
    with torch.no_grad():
        expected = call(model, images)
        fuse_conv_bn(model)
        got = call(model, images)
    left = [n for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))]
    assert not left, f"{name}: batch norms not fused: {left[:5]}"
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("index", range(3))
def test_channels_last_same_outputs(index):
    _, model, call = networks()[index]
    model.eval()
    images = torch.rand(2, 3, *SIZE) * 255
    with torch.no_grad():
        expected = call(model, images)
        to_channels_last(model)
        got = call(model, channels_last_input(images))
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("index", range(3))
def test_bf16_autocast_runs_every_convolution_in_bf16(index):
    name, model, call = networks()[index]
    dtypes = {}
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda m, i, o, n=module_name: dtypes.__setitem__(n, o.dtype))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        call(model.eval(), torch.rand(2, 3, *SIZE) * 255)
    assert dtypes and {n: d for n, d in dtypes.items() if d != torch.bfloat16} == {}, name


def test_compile_wraps_the_model_and_keeps_outputs():
    model = build_model("hrnet133", tiny=True, input_size=SIZE).eval()
    images = torch.rand(1, 3, *SIZE) * 255
    compiled = compile_model(model, "default", backend="eager")  # eager: no C++ toolchain needed in CI
    with torch.no_grad():
        torch.testing.assert_close(compiled(images)["wholebody"], model(images)["wholebody"])
    assert compiled.config is model.config and compiled.stride == model.stride  # predict_crops reads these


def test_cuda_graphs_only_on_cuda():
    model = build_model("hrnet133", tiny=True, input_size=SIZE)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        compile_model(model, "reduce-overhead")
    with pytest.raises(ValueError, match="unknown compile mode"):
        compile_model(model, "fast")


def test_zoomnet_launches_the_same_ops_for_any_batch():
    """No Python loop per image or per RoI: the op count of a forward (box decoding, RoIAlign of
    all 3 parts, both heads) does not grow with the batch."""
    model = build_model("zoomnet", tiny=True, input_size=(64, 48)).eval()
    counts = []
    for batch in (2, 6):  # (a batch of 1 takes a few size-1 shortcuts of its own)
        with torch.no_grad(), OpCounter() as counter:
            model(torch.rand(batch, 3, 64, 48) * 255)
        counts.append(counter.count)
    # A handful of ops depend on the values (heatmap decoding's border cases); a loop per image or
    # per RoI would add dozens per extra sample (RoIAlign alone is ~20 ops per call).
    assert abs(counts[1] - counts[0]) <= 8, counts


def test_topdown_estimator_speed_options(tmp_path):
    import numpy as np

    from wholebody.models.zoomnet.topdown import TopDownEstimator
    from wholebody.models.checkpoints import save_checkpoint

    model = randomise_norms(build_model("hrnet133", tiny=True, input_size=SIZE))
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"architecture": "hrnet133", "config": model.config.to_dict(), "model": model.state_dict()})
    image = (np.random.default_rng(0).random((200, 160, 3)) * 255).astype(np.uint8)
    boxes = np.array([[20.0, 10, 100, 170], [60, 30, 80, 150]])
    plain = TopDownEstimator(str(path))(image, person_boxes=boxes)
    fast_estimator = TopDownEstimator(str(path), fuse_bn=True, channels_last=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast_estimator.model.modules())
    fast = fast_estimator(image, person_boxes=boxes)
    assert len(fast) == len(plain) == 2
    for a, b in zip(sorted(plain, key=lambda p: p.bbox[0]), sorted(fast, key=lambda p: p.bbox[0])):
        np.testing.assert_allclose(b.keypoints, a.keypoints, atol=1e-3)


def test_cudnn_autotuning_is_a_process_wide_flag_set_only_for_cuda():
    from wholebody.nn.speed import set_cudnn_benchmark

    before = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = False
        assert not set_cudnn_benchmark(torch.device("cpu")) and not torch.backends.cudnn.benchmark
        assert set_cudnn_benchmark(torch.device("cuda")) and torch.backends.cudnn.benchmark  # the global flag
    finally:
        torch.backends.cudnn.benchmark = before


@pytest.mark.slow
def test_training_with_channels_last_and_compile(fixtures_dir, tmp_path, monkeypatch):
    import wholebody.train.loop as loop
    from wholebody.models.checkpoints import load_checkpoint

    modes = []
    monkeypatch.setattr(loop, "compile_model", lambda net, mode: modes.append(mode) or compile_model(net, mode, "eager"))
    cocowb = fixtures_dir / "coco_wholebody"
    result = loop.train(loop.TrainConfig(
        architecture="zoomnet", annotations=str(cocowb / "test_coco_wholebody.json"), images=str(cocowb),
        out=str(tmp_path), tiny=True, input_size=(64, 48), batch_size=2, max_steps=1, eval_every=0, threads=1,
        channels_last=True, compile="default"))
    assert modes == ["default"] and len(result.losses) == 1 and 0 < result.losses[0] < 1
    weights = load_checkpoint(tmp_path / "last.pt", "zoomnet")["model"]
    assert set(weights) == set(build_model("zoomnet", tiny=True).state_dict())  # no "_orig_mod." prefixes


def test_topdown_bf16_inference_runs_convolutions_in_bf16():
    import numpy as np

    from wholebody.models.zoomnet.topdown import crop_people, predict_crops

    model = randomise_norms(build_model("zoomnet", tiny=True, input_size=SIZE))
    dtypes = set()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda m, i, o: dtypes.add(o.dtype))
    image = (np.random.default_rng(1).random((200, 160, 3)) * 255).astype(np.uint8)
    crops, matrices = crop_people(image, np.array([[20.0, 10, 100, 170]]), SIZE)
    keypoints, boxes = predict_crops(model, crops, matrices, bf16=True)
    assert dtypes == {torch.bfloat16}
    assert keypoints.dtype == np.float64 and np.isfinite(keypoints).all() and np.isfinite(boxes).all()


def test_topdown_benchmark_reports_the_flip_test_in_one_pass_with_fewer_ops(tmp_path, monkeypatch):
    """benchmarks/topdown_speed_options.py on CPU: the flip-test variants' JSON (gpu_all.sh reads it)."""
    import importlib.util
    import json
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "topdown_speed_options.py"
    spec = importlib.util.spec_from_file_location("topdown_speed_options", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    out = tmp_path / "b.json"
    monkeypatch.setattr(sys, "argv", ["x", "--arch", "zoomnet", "--tiny", "--variants", "decode,flip-2pass,flip-1pass",
                                      "--repeats", "1", "--warmup", "0", "--cudnn-benchmark", "off", "--json", str(out)])
    benchmark.main()
    record = json.loads(out.read_text())
    variants = record["variants"]
    assert record["cudnn_benchmark"] == "off" and set(variants) == {"decode", "flip-2pass", "flip-1pass"}
    assert variants["flip-1pass"]["max_abs_diff"] < 1e-4 and variants["flip-1pass"]["host_syncs"] == 0
    # one batched pass: about the operators of one forward, half those of two
    assert variants["flip-1pass"]["aten_ops"] < 0.6 * variants["flip-2pass"]["aten_ops"]
