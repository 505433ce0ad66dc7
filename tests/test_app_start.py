"""A cold start's first page: Classify's heading and canvas come before torch is imported.

Importing torch is most of a new server's first script run (about a second and a half
of the ~2 s it took); the page draws its heading and canvas first, then imports torch
for the model and the sidebar's model list. Checked in a fresh interpreter (this one
has torch already) through AppTest and the app's own timings (ui/timings.py), whose
marks say whether torch was imported when the heading and the canvas were drawn.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import runs_dir
from tests.test_app import env, weights  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent

FIRST_RUN = """
import json, sys
from streamlit.testing.v1 import AppTest
print(json.dumps({"torch_before": "torch" in sys.modules}))
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception],
                  "titles": [t.value for t in at.title]}))
"""


def test_first_run_draws_heading_and_canvas_before_importing_torch(env, tmp_path):
    timings = tmp_path / "timings.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, str(ROOT / "streamlit_app.py")], cwd=ROOT,
        env=dict(os.environ, MNIST_STUDIO_TIMINGS=str(timings)), capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    before, after = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert not before["torch_before"]
    assert not after["exceptions"], after
    assert after["titles"] and after["titles"][0].endswith("Classify")
    (run,) = [json.loads(line) for line in timings.read_text().splitlines()]
    marks = {name: {"ms": ms, "torch": torch, "modules": modules}
             for name, ms, torch, modules in run["marks"]}
    assert not marks["heading"]["torch"] and not marks["canvas"]["torch"], marks
    assert run["torch"] == [False, True]  # then the model was loaded, in the same run
    stages = [name for name, _, _ in run["stages"]]
    assert stages.index("canvas") < stages.index("load model"), stages


@pytest.mark.parametrize("configured", [None, "elsewhere"])
def test_runs_dir_is_the_run_services(monkeypatch, tmp_path, configured):
    """core.paths.runs_dir() (the identity's, read before torch) is the folder the run
    service uses."""
    from core.train.service import DEFAULT_RUNS_DIR, ENV_RUNS
    from core.paths import configured_dir

    if configured:
        monkeypatch.setenv(ENV_RUNS, str(tmp_path / configured))
    else:
        monkeypatch.delenv(ENV_RUNS, raising=False)
    assert runs_dir() == configured_dir(None, ENV_RUNS, DEFAULT_RUNS_DIR)
