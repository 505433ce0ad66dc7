"""`python -m scripts.screenshots` takes every page's picture from the real app.

Slow (it starts the app, trains two short runs and drives headless Chromium: a few
minutes), so it runs only when asked for:

    MNIST_STUDIO_SCREENSHOTS=1 .venv/bin/python -m pytest -m screenshots -s

It writes into a temporary folder, never into docs/screenshots/ (to refresh those,
run `python -m scripts.screenshots` itself).
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AppPage:
    name: str  # its file in pages/ and its picture in docs/screenshots/, without suffix
    title: str
    url: str  # "/" for the default page


def app_pages() -> list[AppPage]:
    """The pages streamlit_app.py registers, in its order (read from its source: the
    app itself needs a Streamlit session to build them)."""
    pages = []
    for line in (ROOT / "streamlit_app.py").read_text().splitlines():
        m = re.search(r'st\.Page\("pages/(\w+)\.py", title="([^"]+)"', line)
        if m:
            name, title = m.groups()
            pages.append(AppPage(name, title, "/" if "default=True" in line else f"/{name}"))
    return pages


PAGES = [page.name for page in app_pages()]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.screenshots
@pytest.mark.skipif(os.environ.get("MNIST_STUDIO_SCREENSHOTS") != "1",
                    reason="slow: set MNIST_STUDIO_SCREENSHOTS=1 to take the screenshots")
def test_screenshots_of_every_page(tmp_path):
    done = subprocess.run([sys.executable, "-m", "scripts.screenshots", "--out", str(tmp_path),
                           "--timeout", "900"], cwd=ROOT, capture_output=True, text=True,
                          timeout=960)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(PAGES)
    for path in tmp_path.glob("*.png"):
        width, height = png_size(path)
        assert width == 1280 and height >= 900, (path, width, height)
