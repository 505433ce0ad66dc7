"""The command lines other tools call: python -m core.train / core.evaluate."""
import json
import subprocess
import sys

import pytest

from core.evaluate import cli as evaluate_cli
from core.train import cli as train_cli
from tests.conftest import ROOT

REQUIRED = {"dataset", "model", "epochs", "device", "test_accuracy", "val_accuracy",
            "train_seconds", "samples_per_second", "checkpoint"}


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_train_json_then_evaluate_json(fake_data_root, tmp_path, capsys):
    out = tmp_path / "m.pt"
    code = train_cli.main(["--dataset", "fashion", "--model", "bn-cnn", "--epochs", "2",
                           "--batch-size", "64", "--lr", "3e-3", "--augment", "--device", "cpu",
                           "--data-dir", str(fake_data_root), "--out", str(out), "--json"])
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert REQUIRED <= summary.keys()
    assert summary["dataset"] == "fashion" and summary["epochs"] == 2
    assert 0 <= summary["test_accuracy"] <= 1 and 0 <= summary["val_accuracy"] <= 1
    assert summary["checkpoint"] == str(out) and out.exists()
    assert not out.with_suffix(".last.pt").exists()  # completed: nothing to resume

    assert evaluate_cli.main([str(out), "--data-dir", str(fake_data_root), "--json"]) == 0
    ev = last_json(capsys.readouterr().out)
    assert ev["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert len(ev["per_class_accuracy"]) == 10
    cm = ev["confusion_matrix"]
    assert len(cm) == 10 and sum(map(sum, cm)) == 100
    assert [sum(r) for r in cm] == [10] * 10  # rows are true classes


def test_bad_inputs_exit_cleanly(tmp_path, capsys, fake_data_root):
    assert evaluate_cli.main([str(tmp_path / "missing.pt")]) == 2
    assert "error:" in capsys.readouterr().err
    assert train_cli.main(["--dataset", "mnist", "--model", "nope", "--data-dir",
                           str(fake_data_root)]) == 2
    assert "unknown architecture" in capsys.readouterr().err
    assert train_cli.main(["--dataset", "mnist", "--model", "cnn", "--data-dir",
                           str(tmp_path / "empty"), "--json"]) == 2
    assert "not found under" in capsys.readouterr().err


@pytest.mark.parametrize("module,flags", [
    ("core.train", ["--dataset", "--model", "--epochs", "--batch-size", "--lr", "--optimizer",
                    "--schedule", "--augment", "--seed", "--device", "--data-dir", "--out",
                    "--resume", "--init-from", "--json", "--register", "--runs"]),
    ("core.evaluate", ["--data-dir", "--json"]),
])
def test_help_explains_every_flag(module, flags):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    for flag in flags:
        assert flag in out


def test_flags_are_made_from_train_config():
    from core.train.config import TrainConfig
    args = train_cli.parser().parse_args(
        ["--dataset", "fashion", "--model", "resnet", "--batch-size", "64",
         "--weight-decay", "5e-4", "--label-smoothing", "0.1", "--augment", "--erase", "8"])
    assert train_cli.config_of(args) == TrainConfig(
        dataset="fashion", model="resnet", batch_size=64, weight_decay=5e-4,
        label_smoothing=0.1, augment=True, erase=8)
    flags = {a.dest for a in train_cli.parser()._actions}
    assert set(TrainConfig.settings()) | {"out", "resume", "json", "register", "runs", "help",
                                          "arch_file", "export_script", "init_from"} == flags


def test_out_of_range_flag_names_the_field(fake_data_root, capsys):
    assert train_cli.main(["--dataset", "mnist", "--model", "cnn", "--epochs", "500",
                           "--data-dir", str(fake_data_root)]) == 2
    assert "epochs must be between 1 and 200, got 500" in capsys.readouterr().err


def test_a_trained_model_keeps_its_test_predictions_beside_it(fake_data_root, tmp_path):
    """Evaluate and Mistakes open a new model without running it: finish() saved them."""
    from core.networks.checkpoints import load_checkpoint
    from core.data import load_split
    from core.evaluate.metrics import predict_split
    from core.evaluate.predictions import load_predictions, predictions_path

    out = tmp_path / "m.pt"
    assert train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "1",
                           "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    test = load_split("mnist", False, fake_data_root)
    saved = load_predictions(predictions_path(out), out, test, ckpt.meta.mean, ckpt.meta.std)
    assert saved is not None
    fresh = predict_split(ckpt.model, test, ckpt.meta.mean, ckpt.meta.std)
    assert saved.predicted.tolist() == fresh.predicted.tolist()


def test_a_diverging_run_says_so_in_its_json(fake_data_root, tmp_path, capsys):
    out = tmp_path / "m.pt"
    code = train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "2",
                           "--lr", "2.0", "--device", "cpu", "--data-dir", str(fake_data_root),
                           "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 1  # a script that checks the status does not ship a diverged model
    summary = last_json(captured.out)
    assert summary["diverged"] is True and summary["steps"] < 7
    assert "learning rate 2 is too high for adam" in summary["divergence"]
    assert f"diverged: {summary['divergence']}" in captured.err
    assert out.exists() and not out.with_suffix(".last.pt").exists()  # nothing to resume


def test_the_printed_resume_command_finishes_the_run_into_its_own_out(
        fake_data_root, tmp_path, capsys, monkeypatch):
    """It failed for want of --dataset and --model; given those, it wrote runs/cli/ instead."""
    import os
    import shlex
    from core.networks.checkpoints import load_checkpoint

    polls = {"n": 0}

    def stop_after_20_steps():  # Ctrl-C after 20 steps: polled before each step, and once
        polls["n"] += 1       # per validation batch (the fake data's 100 images: one, at step 13)
        return polls["n"] > 21
    monkeypatch.setattr(train_cli, "_stop_on_sigint", lambda: stop_after_20_steps)
    out = tmp_path / "kept" / "m.pt"
    assert train_cli.main(["--dataset", "mnist", "--model", "ffnn-small", "--epochs", "2",
                           "--batch-size", "32", "--device", "cpu", "--seed", "3",
                           "--data-dir", str(fake_data_root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    command = printed.split("resume with: ", 1)[1].splitlines()[0]
    last = out.with_suffix(".last.pt")
    assert shlex.split(command) == ["python", "-m", "core.train", "--resume", str(last)]
    assert last.exists() and load_checkpoint(out).meta.metrics["steps"] == 20

    # Refused: a flag that would change the run. Allowed: this machine's device.
    assert train_cli.main(["--resume", str(last), "--lr", "0.1", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "--lr 0.1 would change the run" in err and "--epochs" not in err  # 2 is its own
    point, kept, said = train_cli.resumed_run(*train_cli.parse_args(["--resume", str(last),
                                                              "--device", "auto"]))
    assert kept == out and point.config.device == "auto" and point.config.seed == 3
    assert said == f"resuming {out} from step 20; --device overridden to auto"

    elsewhere = tmp_path / "elsewhere"  # a different working directory
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=elsewhere,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} from step 20" in done.stderr
    assert f"checkpoint: {out}" in done.stdout
    assert not last.exists() and not (elsewhere / "runs").exists()
    metrics = load_checkpoint(out).meta.metrics
    assert metrics["steps"] == 26 and metrics["stopped"] is False  # 2 epochs of 13 steps
