"""ImageNet initialisation (``wholebody.models.pretrained``) from published key names and shapes.

The published checkpoints are described in ``published_backbones`` from the published
architectures; no file is downloaded.  For every backbone: each of our backbone tensors receives
exactly one published tensor (bit for bit), and a round trip (our weights written back under the
published names, loaded into a fresh network) reproduces the same forward output.
"""

from __future__ import annotations

import pytest
import torch

from published_backbones import published_hrnet, random_state, torchvision_resnet50
from wholebody.models.dope.network import dope_resnet50
from wholebody.models.pretrained import (PretrainedError, backbone_specs, load_pretrained, published_state_dict,
                                         read_published_state)
from wholebody.models.registry import build_model


def fingerprint(tensor: torch.Tensor) -> tuple:
    return tuple(tensor.shape), float(tensor.double().sum()), float(tensor.flatten()[0]) if tensor.numel() else 0.0


def save(tmp_path, name: str, state: dict) -> str:
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def assert_every_backbone_tensor_filled(model, architecture: str, published: list[dict]) -> None:
    """Each backbone tensor equals some published tensor of its file; within one backbone module
    no two of ours took the same one (ZoomNet's two part heads share the W18 file)."""
    state = model.state_dict()
    for spec, source in zip(backbone_specs(model, architecture), published):
        by_print = {fingerprint(t): name for name, t in source.items() if not name.endswith("num_batches_tracked")}
        for prefix in spec.parts:
            keys = [k for k in state if k.startswith(prefix) and not k.endswith("num_batches_tracked")]
            assert keys, prefix
            sources = [by_print.get(fingerprint(state[k])) for k in keys]
            unfilled = [k for k, s in zip(keys, sources) if s is None]
            assert not unfilled, f"{len(unfilled)} tensors not filled, e.g. {unfilled[:3]}"
            assert len(set(sources)) == len(keys), f"{prefix}: a published tensor was used twice"


def forward(model, images):
    model.eval()
    with torch.no_grad():
        out = model(images)
    return out if isinstance(out, torch.Tensor) else torch.cat([v.flatten() for v in out.values()])


@pytest.mark.parametrize("architecture,files", [
    ("hrnet133", [published_hrnet(32)]),
    ("zoomnet", [published_hrnet(18, classifier=False), published_hrnet(32)]),  # any order; timm features_only
])
def test_hrnet_backbones_filled_and_round_trip(tmp_path, architecture, files):
    torch.manual_seed(0)
    model = build_model(architecture, input_size=(64, 48))
    published = [random_state(shapes, seed) for seed, shapes in enumerate(files)]
    paths = [save(tmp_path, f"file{i}.pth", state) for i, state in enumerate(published)]
    report = load_pretrained(model, architecture, paths)
    by_width = sorted(published, key=lambda s: -s["transition1.0.0.weight"].shape[0])  # W32 spec first
    assert_every_backbone_tensor_filled(model, architecture, by_width)
    assert all(count > 0 for _, _, count, _ in report.loaded)
    assert "body_head.conv" in report.fresh or "head.conv" in report.fresh

    exported = published_state_dict(model, architecture)
    for ours, theirs in zip(exported, by_width):
        assert set(ours) <= set(theirs)
    torch.manual_seed(0)  # the same random new layers (heads) as the first network
    again = build_model(architecture, input_size=(64, 48))
    load_pretrained(again, architecture, [save(tmp_path, f"back{i}.pth", s) for i, s in enumerate(exported)])
    images = torch.rand(2, 3, 64, 48) * 255
    torch.testing.assert_close(forward(again, images), forward(model, images), rtol=0, atol=0)


def test_resnet50_into_dope(tmp_path):
    model = dope_resnet50()
    published = random_state(torchvision_resnet50(), 3)
    del published["layer1.0.bn1.num_batches_tracked"]  # pre-1.0 torchvision files lack the counters
    load_pretrained(model, "dope", [save(tmp_path, "resnet50-0676ba61.pth", published)])
    assert_every_backbone_tensor_filled(model, "dope", [published])
    again = dope_resnet50()
    load_pretrained(again, "dope", [save(tmp_path, "back.pth", published_state_dict(model, "dope")[0])])
    images = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(again.backbone.eval()(images), model.backbone.eval()(images), rtol=0, atol=0)


def test_wrapped_and_dataparallel_files_are_read(tmp_path):
    state = {"conv1.weight": torch.zeros(1)}
    path = save(tmp_path, "wrapped.pth", {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3})
    assert set(read_published_state(path)) == {"conv1.weight"}


def test_another_architecture_names_file_and_keys(tmp_path):
    model = build_model("hrnet133", input_size=(64, 48))
    path = save(tmp_path, "resnet50.pth", random_state(torchvision_resnet50(), 0))
    with pytest.raises(PretrainedError) as err:
        load_pretrained(model, "hrnet133", [path])
    message = str(err.value)
    assert path in message and "missing keys" in message and "transition1.0.0.weight" in message
    assert "unexpected keys" in message and "layer2.0.conv3.weight" in message


def test_wrong_width_and_a_stray_key_are_refused(tmp_path):
    model = build_model("hrnet133", input_size=(64, 48))
    with pytest.raises(PretrainedError, match="another shape"):
        load_pretrained(model, "hrnet133", [save(tmp_path, "w18.pth", random_state(published_hrnet(18), 0))])
    state = random_state(published_hrnet(32), 0) | {"stage2.0.extra.weight": torch.zeros(3)}
    with pytest.raises(PretrainedError, match=r"1 unexpected keys: stage2\.0\.extra\.weight"):
        load_pretrained(model, "hrnet133", [save(tmp_path, "extra.pth", state)])


def test_zoomnet_needs_both_files(tmp_path):
    model = build_model("zoomnet", input_size=(64, 48))
    with pytest.raises(PretrainedError, match="HRNet-W32 and HRNetV2-W18"):
        load_pretrained(model, "zoomnet", [save(tmp_path, "w32.pth", random_state(published_hrnet(32), 0))])


class NotAllowed:  # pickled as a global: weights_only loading must refuse to build it
    pass


@pytest.mark.parametrize("content", ["missing", "text", "pickle"])
def test_cli_bad_pretrained_file_exits_1_naming_it(tmp_path, capsys, content):
    from wholebody.cli.main import main

    path = tmp_path / "imagenet.pth"
    if content == "text":
        path.write_text("not a checkpoint")
    elif content == "pickle":
        torch.save({"conv1.weight": NotAllowed()}, path)
    code = main(["train", "hrnet133", "--data", str(tmp_path / "ann.json"), "--images", str(tmp_path),
                 "--out", str(tmp_path / "run"), "--pretrained", str(path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert str(path) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_old_zoomnet_configs_keep_four_stage1_blocks():
    from wholebody.models.zoomnet.network import ZoomNetConfig

    stored = ZoomNetConfig().to_dict()
    assert ZoomNetConfig.from_dict(stored).body_stage1_blocks == 3
    del stored["body_stage1_blocks"]
    assert ZoomNetConfig.from_dict(stored).body_stage1_blocks == 4


def test_tiny_networks_are_refused(tmp_path):
    with pytest.raises(PretrainedError, match="drop --tiny"):
        load_pretrained(build_model("hrnet133", tiny=True), "hrnet133", [tmp_path / "w32.pth"])


def test_training_starts_from_the_imagenet_weights(fixtures_dir, tmp_path):
    from wholebody.models.checkpoints import load_checkpoint
    from wholebody.train.loop import TrainConfig, train

    published = random_state(published_hrnet(32), 5)
    path = save(tmp_path, "hrnetv2_w32_imagenet_pretrained.pth", published)
    cocowb = fixtures_dir / "coco_wholebody"
    train(TrainConfig(architecture="hrnet133", annotations=str(cocowb / "test_coco_wholebody.json"),
                      images=str(cocowb), out=str(tmp_path / "run"), input_size=(64, 48), batch_size=2, lr=1e-3,
                      warmup_steps=10, max_steps=1, eval_every=0, threads=1, pretrained=(path,)))
    weights = load_checkpoint(tmp_path / "run" / "last.pt", "hrnet133")["model"]
    # One warm-up Adam step moves each weight by about lr * 0.001 = 1e-6 at most.
    for ours, theirs in (("backbone.stem.0.0.weight", "conv1.weight"),
                         ("backbone.stages.3.2.fuse.paths.0.3.0.weight", "stage4.2.fuse_layers.0.3.0.weight")):
        torch.testing.assert_close(weights[ours], published[theirs], rtol=0, atol=1e-5)


def test_cli_dope_refuses_an_hrnet_file_before_reading_data(tmp_path, capsys):
    from wholebody.cli.main import main

    path = save(tmp_path, "hrnet_w32.pth", random_state(published_hrnet(32), 0))
    code = main(["train", "dope", "--source", f"cocowb={tmp_path / 'absent.json'}", "--teacher", "none",
                 "--out", str(tmp_path / "run"), "--pretrained", path, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert path in err and "ResNet-50" in err and "missing keys: backbone" not in err  # published names listed
    assert "layer1.0.conv1.weight" in err or "keys of another shape" in err
