"""Show me the code: a run's settings as a standalone PyTorch script (core/train/script.py).

The script imports only torch, torchvision and the standard library; its network is the
app's, parameter for parameter (and, seeded alike, the same starting weights); and one
epoch of it learns what one epoch of the app's trainer learns on the same data.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.data import DATASETS, load_bundle, train_val_indices
from core.evaluate.metrics import evaluate
from core.networks import layers as blocks
from core.networks import spec as specs
from core.networks.models import ARCHITECTURES, build_model
from core.networks.spec import INPUT_SHAPE, KINDS, Kind, Layer, SpecError, check, module_code
from core.train import cli as train_cli
from core.train.config import TrainConfig
from core.train.loop import train
from core.train.script import script
from bench.fakedata import write_idx

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)

# The configurations the issue names: a built-in, a custom network, augmentation on, a
# schedule (onecycle, the default, in the first; constant in the second).
TRAINED = {
    "built-in": dict(model="fastcnn"),
    "custom": dict(model="custom", layers="conv16k3,pool2,relu,bn,fc64,relu,fc10",
                   optimizer="adamw", weight_decay=1e-4, label_smoothing=0.1,
                   schedule="constant"),
    "augmented": dict(model="fastcnn", augment=True, erase=4, optimizer="sgd", lr=0.05),
}
# Written and checked, not trained: every other feature of a run the script carries.
WRITTEN = {
    **{name: dict(model=name) for name in ARCHITECTURES},
    "fashion-augmented": dict(dataset="fashion", model="resnet", augment=True, erase=8),
    "fgsm": dict(model="custom", layers="conv8k3s2p1,relu,avgpool2,gavgpool,fc10",
                 adversarial="fgsm", adv_eps=0.1),
    "pgd": dict(model="custom", layers="gelu,tanh,sigmoid,flatten,bn,drop0.1,fc10",
                adversarial="pgd", adv_steps=3),
}


def _config(**kw) -> TrainConfig:
    return TrainConfig(**{"dataset": "mnist", "epochs": 1, "batch_size": 32, "device": "cpu",
                          **kw})


def _load(path: Path, name: str):
    """The generated file as a module (its main() not run)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def glyph_root(tmp_path_factory) -> Path:
    """A data root where one epoch learns each class with a margin: ten random 6x6 glyphs,
    drawn 3x larger at a random place (so shifts, cutout and the app's rounding of ties
    leave the class plain), on noise. 2,000 training images (1,600 train, 400 validation)
    and 500 test images."""
    root = tmp_path_factory.mktemp("glyphs")
    rng = np.random.default_rng(0)
    shapes = rng.random((10, 6, 6)) < 0.5
    raw = root / DATASETS["mnist"].folder / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 2000), ("t10k", 500)):
        labels = rng.permutation(np.arange(n) % 10)
        images = rng.integers(0, 50, (n, 28, 28)).astype(np.float32)
        for i, c in enumerate(labels):
            dy, dx = rng.integers(3, 8, 2)
            images[i, dy:dy + 18, dx:dx + 18] += 200 * np.kron(shapes[c], np.ones((3, 3)))
        write_idx(raw / f"{prefix}-images-idx3-ubyte", np.clip(images, 0, 255).astype(np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return root


@pytest.fixture
def one_thread(monkeypatch):
    """One thread for the app's trainer and the script alike: on a shared 2-core machine
    a second thread waits at every op's barrier (core.machine.device.configure_threads)."""
    monkeypatch.setenv("MNIST_STUDIO_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ each layer kind

@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_writes_the_module_it_builds(name):
    """A kind's code rule, run, makes a module with the parameters its module rule makes."""
    kind = KINDS[name]
    layer = Layer(name, **kind.defaults)
    shape = (16,) if kind.flat_input else (8, 12, 12)
    made = kind.module(layer, shape)
    source = kind.code(layer, shape)
    written = eval(source, {"nn": nn, "conv_bn": blocks.conv_bn, "Residual": blocks.Residual})
    assert {k: v.shape for k, v in written.state_dict().items()} == \
        {k: v.shape for k, v in made.state_dict().items()}, source
    assert type(written).__name__ == ("Dropout" if name == "drop" else type(made).__name__)
    assert set(kind.blocks) <= {"conv_bn", "Residual"}


def test_module_code_follows_the_spec_with_its_implied_flatten():
    written = module_code("conv8k5s2p2,pool2,fc32,fc10")
    assert [m.source for m in written] == ["nn.Conv2d(1, 8, 5, stride=2, padding=2)",
                                           "nn.MaxPool2d(2)", "nn.Flatten()",
                                           "nn.Linear(392, 32)", "nn.Linear(32, 10)"]
    assert [m.info.shape for m in written] == [i.shape for i in check("conv8k5s2p2,pool2,fc32,fc10").layers]
    assert INPUT_SHAPE == (1, 28, 28)


# ------------------------------------------------------------------ the script

@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_the_script_imports_only_torch_and_has_the_apps_network(name, tmp_path):
    cfg = _config(**WRITTEN[name])
    text = script(cfg)
    path = tmp_path / "run.py"
    path.write_text(text)
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(text))
                 if isinstance(node, ast.ImportFrom)}
    assert imported - STDLIB == {"torch", "torchvision"}, imported
    assert max(len(line) for line in text.splitlines()) <= 100
    module = _load(path, f"run_{name.replace('-', '_')}")
    torch.manual_seed(cfg.seed)
    theirs = module.make_model()
    torch.manual_seed(cfg.seed)  # as the app's trainer does, just before it builds
    ours = build_model(cfg.model, cfg.layers)
    assert sum(p.numel() for p in theirs.parameters()) == sum(p.numel() for p in ours.parameters())
    mine, yours = ours.state_dict(), theirs.state_dict()
    assert {k: v.shape for k, v in yours.items()} == {k: v.shape for k, v in mine.items()}
    assert all(torch.equal(yours[k], mine[k]) for k in mine)  # the same starting weights
    x = torch.randn(2, 1, 28, 28)
    assert theirs.eval()(x).shape == (2, 10)
    assert (module.MEAN, module.STD) == (DATASETS[cfg.dataset].mean, DATASETS[cfg.dataset].std)
    assert module.DATASET.__name__ == DATASETS[cfg.dataset].torchvision_name
    assert (module.BATCH_SIZE, module.LR, module.SEED) == (cfg.batch_size, cfg.lr, cfg.seed)


def test_the_scripts_split_is_the_apps(glyph_root, tmp_path):
    path = tmp_path / "run.py"
    path.write_text(script(_config(model="ffnn-small")))
    module = _load(path, "run_split")
    for n in (2000, 60_000):
        ours, theirs = train_val_indices(n, 12_000 if n == 60_000 else n // 5), module.split(n)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_augmentation_and_attack_change_the_batch_within_their_rules(tmp_path):
    cfg = _config(dataset="fashion", model="fastcnn", augment=True, erase=6,
                  adversarial="pgd", adv_eps=0.1, adv_steps=2)
    path = tmp_path / "run.py"
    path.write_text(script(cfg))
    module = _load(path, "run_changes")
    torch.manual_seed(0)
    x = torch.randn(64, 1, 28, 28)
    changed = module.augment(x)
    assert changed.shape == x.shape and not torch.equal(changed, x)
    model = module.make_model()
    y = torch.randint(0, 10, (64,))
    pixels = (x * module.STD + module.MEAN).clamp(0, 1)
    attacked = module.adversarial(model, (pixels - module.MEAN) / module.STD, y)
    moved = attacked * module.STD + module.MEAN - pixels
    assert moved.abs().max() <= 0.1 + 1e-5 and moved.abs().max() > 0.05


def test_one_epoch_of_the_script_learns_what_the_apps_run_learns(glyph_root, tmp_path,
                                                                 one_thread, capsys):
    """Each config, two seeds: the script's test accuracy within 1 point of the app's own
    run of the same settings on the same data (both learn these glyphs with room to spare,
    so the margin holds on any CPU)."""
    data = load_bundle("mnist", glyph_root)
    spec = DATASETS["mnist"]
    for name, settings in TRAINED.items():
        for seed in (0, 1):
            cfg = _config(seed=seed, **settings)
            app = evaluate(train(cfg, data).model, data.test, spec.mean, spec.std).accuracy
            path = tmp_path / f"{name}-{seed}.py"
            path.write_text(script(cfg))
            _load(path, f"run_{name.replace('-', '_')}_{seed}").main(
                ["--data", str(glyph_root), "--epochs", "1", "--device", "cpu"])
            printed = capsys.readouterr().out.strip().splitlines()
            assert re.fullmatch(r"test accuracy: \d\.\d{4}", printed[-1]), printed
            theirs = float(printed[-1].split(": ")[1])
            assert printed[0].startswith("epoch 1/1  val loss ")
            assert app >= 0.97 and theirs >= 0.97, (name, seed, app, theirs)
            assert abs(theirs - app) <= 0.01, (name, seed, app, theirs)
            with capsys.disabled():  # the figures, for `pytest -s`
                print(f"\n{name} seed {seed}: app {app:.4f}, script {theirs:.4f}", end="")


def test_the_command_line_writes_the_script_and_trains_nothing(glyph_root, tmp_path):
    """`python -m core.train ... --export-script run.py`, then the script itself in a fresh
    Python with nothing of this project importable: it runs and prints its one line."""
    out = tmp_path / "run.py"
    assert train_cli.main(["--dataset", "mnist", "--model", "fastcnn", "--epochs", "1",
                           "--batch-size", "32", "--augment", "--export-script", str(out),
                           "--out", str(tmp_path / "never.pt")]) == 0
    assert out.read_text() == script(_config(model="fastcnn", augment=True, device="auto"))
    assert not list(tmp_path.glob("never*"))  # nothing trained, nothing saved
    alone = tmp_path / "alone"
    alone.mkdir()
    done = subprocess.run([sys.executable, "-I", str(out), "--data", str(glyph_root),
                           "--epochs", "1", "--device", "cpu"], cwd=alone, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"test accuracy: \d\.\d{4}", last) and float(last.split(": ")[1]) > 0.9


def test_the_command_line_says_what_is_wrong(tmp_path, capsys):
    assert train_cli.main(["--dataset", "mnist", "--layers", "conv8k3,fc11",
                           "--export-script", str(tmp_path / "run.py")]) == 2
    assert "the last layer must be fc10" in capsys.readouterr().err
    assert train_cli.main(["--dataset", "mnist", "--model", "cnn", "--export-script",
                           str(tmp_path / "no" / "such" / "run.py")]) == 2
    assert "No such file or directory" in capsys.readouterr().err
    assert not (tmp_path / "run.py").exists()


def test_a_script_says_it_leaves_out_outlier_exposure_and_canvas_redraws(tmp_path, capsys):
    plain = script(_config(model="ffnn-small"))
    for knowing in (dict(outlier_exposure=0.5), dict(canvas_redraws=0.25)):
        text = script(_config(model="ffnn-small", **knowing))
        assert "Left out: outlier exposure and canvas redraws" in ast.get_docstring(
            ast.parse(text)).replace("\n", " ")
    assert "Left out" not in plain
    assert train_cli.main(["--dataset", "mnist", "--model", "cnn", "--init-from", "base.pt",
                           "--export-script", str(tmp_path / "run.py")]) == 2
    assert "it does not take --init-from" in capsys.readouterr().err
    assert not (tmp_path / "run.py").exists()


def test_a_missing_dataset_is_said_in_one_line(tmp_path):
    path = tmp_path / "run.py"
    path.write_text(script(_config(model="ffnn-small")))
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data root should be")
    # torchvision can neither find nor download the files there, online or not.
    with pytest.raises(SystemExit) as exit_:
        _load(path, "run_missing").main(["--data", str(not_a_folder), "--epochs", "1"])
    assert str(exit_.value.code).startswith(f"cannot load MNIST under {not_a_folder}: ")


def test_a_kind_without_a_code_rule_trains_but_has_no_script(monkeypatch):
    monkeypatch.setitem(specs.KINDS, "twice", Kind(
        "twice", "twice", "doubles its input", walk=lambda layer, shape: (shape, 0, 0),
        module=lambda layer, shape: nn.Identity()))
    cfg = _config(model="custom", layers="conv4k3,twice,fc10")
    assert build_model(cfg.model, cfg.layers)  # it builds (and so trains)
    with pytest.raises(SpecError, match=r"layer 2 \(twice\): the twice kind has no code rule"):
        script(cfg)
