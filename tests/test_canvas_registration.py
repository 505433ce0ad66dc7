"""Classify's canvas component, registered again without its toolbar (ui/classify/canvas.py),
logs no "is already registered. Overwriting previous definition" warning: checked in a
fresh interpreter, where the registration happens (once per process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent

FIRST_RUN = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception],
                  "titles": [t.value for t in at.title]}))
"""


def test_drawing_the_canvas_logs_no_overwrite_warning(env):
    done = subprocess.run([sys.executable, "-c", FIRST_RUN, str(ROOT / "streamlit_app.py")],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["exceptions"] == [] and run["titles"][0].endswith("Classify")
    assert "drawing canvas unavailable" not in done.stderr  # the component was registered
    assert "already registered" not in done.stderr, done.stderr[-3000:]
