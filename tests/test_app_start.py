"""A cold start's first page: Classify's heading and canvas come before torch is imported.

Importing torch is most of a new server's first script run (about a second and a half
of the ~2 s it took); the page draws its heading and canvas first, then imports torch
for the model and the sidebar's model list. Checked in a fresh interpreter (this one
has torch already) through AppTest and the app's own timings (ui/common/timings.py), whose
marks say whether torch was imported when the heading and the canvas were drawn.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from core.machine.paths import runs_dir

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


def test_the_run_service_uses_core_paths_runs_dir(monkeypatch, tmp_path):
    """One rule for the runs folder: the identity reads it before torch, the service
    and `core.train --register` use the same function."""
    from core.runs.api import RunService

    monkeypatch.setenv("MNIST_STUDIO_RUNS", str(tmp_path / "elsewhere"))
    assert runs_dir() == tmp_path / "elsewhere"
    service = RunService(start_scheduler=False)
    try:
        assert service.runs_dir == tmp_path / "elsewhere"
    finally:
        service.shutdown()
