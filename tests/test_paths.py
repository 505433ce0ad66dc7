"""The folders the app writes by default sit where the docs say, and git ignores them."""
import shutil
import subprocess

import pytest

from core.data import DEFAULT_DATA_ROOT
from core.evaluate.predictions import DEFAULT_CACHE_DIR
from core.machine.paths import ROOT, runs_dir


def test_default_folders_are_at_the_checkout_root():
    # Regression: data and cache defaulted to <repo>/core/data and <repo>/core/.cache
    # (two folders up from a module inside a package), which git showed as untracked.
    assert DEFAULT_DATA_ROOT == ROOT / "data"
    assert DEFAULT_CACHE_DIR == ROOT / ".cache"


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
@pytest.mark.parametrize("folder", [DEFAULT_DATA_ROOT, DEFAULT_CACHE_DIR, ROOT / "runs", ROOT / "test-output"])
def test_git_ignores_what_the_app_writes(folder, monkeypatch):
    monkeypatch.delenv("MNIST_STUDIO_RUNS", raising=False)
    assert runs_dir() == ROOT / "runs"
    probe = folder.relative_to(ROOT) / "probe.npz"
    done = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT)
    assert done.returncode == 0, f"{probe} is not ignored by git"
