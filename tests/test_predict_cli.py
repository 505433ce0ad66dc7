"""python -m core.predict: checkpoint + image files -> predictions, text or JSON lines."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from core.networks.checkpoints import CheckpointMeta, save_checkpoint
from core.networks.models import build_model
from core.predict.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"path", "blank", "predicted", "label", "probabilities"}


@pytest.fixture
def files(tmp_path):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "ffnn.pt", build_model("ffnn"),
                           CheckpointMeta.new("mnist", "ffnn"))
    digit = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(digit).line([(45, 15), (55, 85)], fill=0, width=8)
    digit.save(tmp_path / "digit.png")
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return {"ckpt": str(ckpt), "digit": str(tmp_path / "digit.png"),
            "blank": str(tmp_path / "blank.png"), "text": str(tmp_path / "notes.txt")}


def run_json(argv, capsys):
    status = main(argv + ["--json"])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def test_json_lines_for_good_and_blank_images(files, capsys):
    status, records = run_json([files["ckpt"], files["digit"], files["blank"]], capsys)
    assert status == 0
    digit, blank = records
    assert set(digit) == KEYS and set(blank) == KEYS
    assert digit["path"] == files["digit"] and digit["blank"] is False
    assert len(digit["probabilities"]) == 10
    assert sum(digit["probabilities"]) == pytest.approx(1.0, abs=1e-9)
    assert digit["predicted"] == max(range(10), key=digit["probabilities"].__getitem__)
    assert digit["label"] == str(digit["predicted"])
    assert blank == {"path": files["blank"], "blank": True, "predicted": None,
                     "label": None, "probabilities": None}


def test_unreadable_image_gives_an_error_entry_and_nonzero_exit(files, capsys):
    status, records = run_json([files["ckpt"], files["text"], files["digit"]], capsys)
    assert status != 0
    error, digit = records
    assert error["path"] == files["text"] and "not an image" in error["error"]
    assert digit["blank"] is False  # the good image after it is still classified


def test_text_output_lists_top_k(files, capsys):
    assert main([files["ckpt"], files["digit"], files["blank"], "--top-k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(files["digit"] + ": ")
    assert len([line for line in lines[1:5] if line.rstrip().endswith("%")]) == 4
    assert "blank" in lines[5]


def test_bad_checkpoint_exits_2(files, capsys):
    assert main([files["text"], files["digit"]]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_help_mentions_every_flag():
    result = subprocess.run([sys.executable, "-m", "core.predict", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for flag in ("checkpoint", "image", "--json", "--top-k", "--help"):
        assert flag in result.stdout
