"""Every shipped checkpoint reproduces its manifest's accuracy on the real test set."""
import json
from pathlib import Path

import pytest

from core.checkpoints import load_checkpoint
from core.data import load_split
from core.evaluate.metrics import evaluate
from scripts.results_table import target

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = json.loads((WEIGHTS / "manifest.json").read_text()) if (WEIGHTS / "manifest.json").exists() else None
ENTRIES = MANIFEST["checkpoints"] if MANIFEST else []


def test_manifest_is_complete_and_small():
    assert MANIFEST is not None, "weights/manifest.json is missing"
    for dataset in ("mnist", "fashion"):
        assert MANIFEST["default"][dataset] in {c["file"] for c in ENTRIES if c["dataset"] == dataset}
    keys = {"file", "dataset", "architecture", "test_accuracy", "val_accuracy", "epochs",
            "train_seconds", "device", "seed", "command"}
    for c in ENTRIES:
        assert keys <= c.keys()
        assert (WEIGHTS / c["file"]).stat().st_size < 10 * 2**20
        assert c["command"].startswith("python -m core.train ")
    assert sum(p.stat().st_size for p in WEIGHTS.glob("*.pt")) < 60 * 2**20


@pytest.mark.parametrize("entry", ENTRIES, ids=[c["file"] for c in ENTRIES])
def test_checkpoint_reproduces_manifest(entry, real_data_root):
    ck = load_checkpoint(WEIGHTS / entry["file"])
    assert (ck.meta.dataset, ck.meta.architecture) == (entry["dataset"], entry["architecture"])
    test = load_split(entry["dataset"], train=False, root=real_data_root)
    acc = evaluate(ck.model, test, ck.meta.mean, ck.meta.std).accuracy
    assert acc == pytest.approx(entry["test_accuracy"], abs=0.0005)
    goal = target(entry["dataset"], entry["architecture"])
    if goal is not None:
        assert acc * 100 >= goal, f"{entry['file']}: {acc:.2%} is under the {goal}% target"
