"""A network is data (core/networks/spec.py): every bad spec gets its message, the server's bounds hold,
the built-ins are specs that still load their checkpoints, and a custom model goes
spec -> TrainConfig -> training -> checkpoint -> model with weights_only=True."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from core.networks.checkpoints import load_checkpoint, read_payload
from core.networks.models import ARCHITECTURES, CUSTOM, build_model, count_parameters
from core.runs.api import LimitReached
from core.server.settings import RunSettings
from core.networks import spec as specs
from core.networks.spec import Bounds, Kind, SpecError, build, canonical, check, parse
from core.train import cli as train_cli
from core.train.config import ConfigError, TrainConfig
from core.train.cost import counting_flops
from tests.conftest import ROOT

SPEC = "conv32k3,pool2,relu,conv64k3,pool2,relu,fc128,drop0.2,fc10"


@pytest.mark.parametrize("spec,message", [
    ("", "empty"),
    ("conv32,fc10", "layer 1: 'conv32' is not a layer"),
    ("conv8k3,pool2,pool2,pool2,conv16k5,fc10", "layer 5 (conv16k5): a 5x5 kernel on a 3x3 map"),
    ("fc64,conv8k3,fc10", "layer 2 (conv8k3): needs feature maps"),
    ("conv8k3,res16,fc10", "layer 2 (res16): a residual block keeps its width: it gets 8"),
    ("conv8k3,pool2,fc64", "the last layer must be fc10"),
    ("conv8k3,drop1.5,fc10", "layer 2 (drop1.5): dropout p must be in [0, 1)"),
    ("conv8k3p3,fc10", "padding 3 must be smaller than the kernel"),
    ("pool2,pool2,pool2,pool2,pool2,fc10", "layer 5 (pool2): a 2x2 window on a 1x1 map"),
    ("fc0,fc10", "layer 1 (fc0): width must be"),
    ('[{"type": "conv"', "not valid JSON"),
    ('[{"kind": "conv"}]', "layer 1: expected a token or an object"),
])
def test_every_bad_spec_gets_its_message(spec, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        check(spec)


def test_the_report_counts_what_torch_counts():
    for spec in [SPEC, "convbn16,res16,pool2,conv8k3s2p1,gavgpool,flatten,bn,fc10",
                 "fc64,gelu,bn,fc32,tanh,fc10", "conv4k5,avgpool2,sigmoid,fc10"]:
        report, model = check(spec), build(spec).eval()
        assert report.parameters == count_parameters(model), spec
        x = torch.zeros(1, 1, 28, 28)
        with counting_flops() as counter:
            out = model(x)
        assert out.shape == (1, 10)
        # torch counts convolutions and matmuls (2 per multiply-add), like the report.
        assert report.flops == counter.get_total_flops(), spec
        assert report.layers[-1].shape == (10,)


def test_the_implied_flatten_and_the_shapes():
    report = check(SPEC)
    assert [(i.token, i.shape) for i in report.layers][:7] == [
        ("conv32k3", (32, 26, 26)), ("pool2", (32, 13, 13)), ("relu", (32, 13, 13)),
        ("conv64k3", (64, 11, 11)), ("pool2", (64, 5, 5)), ("relu", (64, 5, 5)),
        ("flatten", (1600,))]


def test_json_forms_and_canonical_tokens():
    objects = [{"type": "conv", "channels": 32, "kernel": 3, "padding": 1}, {"type": "pool", "size": 2},
               {"type": "relu"}, {"type": "dropout", "p": 0.25}, {"type": "linear", "units": 10}]
    assert canonical(objects) == "conv32k3p1,pool2,relu,drop0.25,fc10"
    assert canonical(json.dumps(objects)) == canonical({"layers": objects})
    assert canonical(" Conv32K3 ,  pool2 relu,fc10") == "conv32k3,pool2,relu,fc10"
    assert [layer.token for layer in parse(canonical(SPEC))] == SPEC.split(",")


def test_bounds_hold():
    report = check(SPEC)
    Bounds(layers=10, parameters=300_000, mflops=10).check(report)  # 9 layers, 225k, 7 MFLOPs
    with pytest.raises(SpecError, match="9 layers: this server allows at most 8"):
        Bounds(layers=8).check(report)
    with pytest.raises(SpecError, match="parameters: this server allows at most 100,000"):
        Bounds(parameters=100_000).check(report)
    with pytest.raises(SpecError, match="MFLOPs per image: this server allows at most 1"):
        Bounds(mflops=1).check(report)


def test_a_server_refuses_a_model_over_its_bounds(tmp_path):
    from core.runs.api import RunService
    from core.server.visitors import Viewer
    service = RunService(tmp_path / "runs", settings=RunSettings(max_parameters=50_000),
                         start_scheduler=False)
    try:
        cfg = TrainConfig(dataset="mnist", model=CUSTOM, layers=SPEC, epochs=1, device="cpu")
        with pytest.raises(LimitReached, match="too large for this server.*at most 50,000"):
            service.submit(cfg, Viewer("v:a"))
        assert service.db.list() == []
    finally:
        service.shutdown()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_builtins_are_specs_that_load_their_checkpoints(name):
    arch = ARCHITECTURES[name]
    model = build_model(name)
    assert check(arch.spec).parameters == count_parameters(model)
    shipped = sorted((ROOT / "weights").glob(f"*-{name}.pt"))
    for path in shipped:  # strict load: every parameter name and shape as trained
        if read_payload(path)["meta"]["architecture"] == name:
            model.load_state_dict(read_payload(path)["state_dict"])
            assert load_checkpoint(path).meta.layers == ""


def test_config_takes_a_custom_model_and_refuses_mixups():
    cfg = TrainConfig(model=CUSTOM, layers=" conv8k3 ,pool2,relu,fc10")
    assert cfg.layers == "conv8k3,pool2,relu,fc10"  # kept canonical
    with pytest.raises(ConfigError, match="needs its layers"):
        TrainConfig(model=CUSTOM)
    with pytest.raises(ConfigError, match="cnn has fixed layers"):
        TrainConfig(model="cnn", layers="fc10")
    with pytest.raises(ConfigError, match="layers: layer 2"):
        TrainConfig(model=CUSTOM, layers="conv8k3,nope,fc10")
    with pytest.raises(ValueError, match="needs its layers"):
        build_model(CUSTOM)


def test_custom_model_round_trip_through_training_and_checkpoint(fake_data_root, tmp_path, capsys):
    out = tmp_path / "custom.pt"
    code = train_cli.main(["--dataset", "mnist", "--layers", "conv8k3,pool2,relu,fc32,drop0.1,fc10",
                           "--epochs", "1", "--batch-size", "64", "--device", "cpu",
                           "--data-dir", str(fake_data_root), "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == CUSTOM
    payload = torch.load(out, weights_only=True)  # plain data only
    assert payload["meta"]["architecture"] == CUSTOM
    assert payload["meta"]["layers"] == "conv8k3,pool2,relu,fc32,drop0.1,fc10"
    ckpt = load_checkpoint(out)
    fresh = build(ckpt.meta.layers)
    fresh.load_state_dict(payload["state_dict"])
    x = torch.randn(3, 1, 28, 28)
    raw = ckpt.model[:-1] if ckpt.meta.temperature != 1.0 else ckpt.model
    assert torch.allclose(raw(x), fresh.eval()(x))


def test_cli_arch_file_and_bad_layers(fake_data_root, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(["fc16", "relu", {"type": "fc", "units": 10}]))
    out = tmp_path / "m.pt"
    assert train_cli.main(["--dataset", "fashion", "--arch-file", str(spec), "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out)]) == 0
    assert load_checkpoint(out).meta.layers == "fc16,relu,fc10"
    capsys.readouterr()
    assert train_cli.main(["--dataset", "mnist", "--layers", "conv8k9,pool2,pool2,pool2,conv8k5,fc10",
                           "--data-dir", str(fake_data_root), "--out", str(tmp_path / "x.pt")]) == 2
    assert "layer 5 (conv8k5): a 5x5 kernel on a 2x2 map" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_help_documents_the_grammar():
    out = subprocess.run([sys.executable, "-m", "core.train", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120).stdout
    for word in ("--layers", "--arch-file", "conv32k3", "convbn64", "res64", "gmaxpool", "drop0.2",
                 "fc10"):
        assert word in out, word


def test_a_checkpoint_naming_huge_layers_is_refused_before_anything_is_built(tmp_path):
    """A small file whose metadata asks for 40 layers of fc4096 (640 M parameters) must
    not make the server allocate them."""
    from core.networks.checkpoints import CheckpointError, CheckpointMeta, save_checkpoint
    path = save_checkpoint(tmp_path / "m.pt", build("fc16,fc10"),
                           CheckpointMeta.new("mnist", CUSTOM, layers="fc16,fc10"))
    payload = torch.load(path, weights_only=True)
    payload["meta"]["layers"] = ",".join(["fc4096"] * 40 + ["fc10"])
    torch.save(payload, tmp_path / "huge.pt")
    with pytest.raises(CheckpointError, match="need 657,727,498 parameters but the file holds 12,730"):
        load_checkpoint(tmp_path / "huge.pt")
    payload["meta"]["layers"] = "conv8k99,fc10"
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="its layers cannot be built: layer 1"):
        load_checkpoint(tmp_path / "bad.pt")
    assert load_checkpoint(path).meta.layers == "fc16,fc10"


def test_the_estimate_of_a_custom_model_builds_nothing(monkeypatch):
    """Read off the spec (within 10% of torch's count for the built-ins), so the Train form
    can price a network far too large for the server without allocating it."""
    from core.train import cost
    for name in ("cnn", "resnet", "fastcnn"):
        counted = cost.training_flops_per_sample(name)
        assert abs(cost.training_flops_per_sample(CUSTOM, ARCHITECTURES[name].spec) / counted - 1) < 0.1
    monkeypatch.setattr(cost, "build_model", lambda *a: pytest.fail("built a model"))
    monkeypatch.setattr(specs, "build", lambda *a: pytest.fail("built a model"))
    huge = ",".join(["fc4096"] * 40 + ["fc10"])
    assert cost.training_flops_per_sample(CUSTOM, huge) == 3 * check(huge).flops


def test_a_new_layer_kind_is_one_entry_and_builds_checks_and_trains(monkeypatch, fake_data_root,
                                                                   tmp_path, capsys):
    """docs/architecture.md's recipe: a kind added here alone (a learned per-channel scale,
    "scale"), then parsed, checked, built, trained from the command line and reloaded."""
    from torch import nn

    class Scale(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(channels, 1, 1))

        def forward(self, x):
            return x * self.weight

    monkeypatch.setitem(specs.KINDS, "scale", Kind(
        "scale", "scale", "a learned scale per channel",
        walk=lambda layer, shape: (shape, shape[0], shape[0] * shape[1] * shape[2]),
        module=lambda layer, shape: Scale(shape[0]), on_maps=True))
    layers = "conv8k3,scale,pool2,relu,fc10"
    assert canonical(layers) == layers and parse(layers)[1].kind == "scale"
    report = check(layers)
    assert [i.parameters for i in report.layers][1] == 8  # the kind's own rule
    assert sum(p.numel() for p in build(layers).parameters()) == report.parameters
    with pytest.raises(SpecError, match=r"layer 2 \(scale\): needs feature maps"):
        check("fc16,scale,fc10")
    out = tmp_path / "scaled.pt"
    assert train_cli.main(["--dataset", "mnist", "--layers", layers, "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["val_accuracy"] > 0
    assert load_checkpoint(out).meta.layers == layers
