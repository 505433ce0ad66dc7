"""The README and docs/*.md hold together: every relative link reaches a file, every
#anchor a heading of that file (GitHub's rule for heading ids), the README stays a
front page, and docs/using.md shows a committed screenshot of every page."""
from __future__ import annotations

import re
from pathlib import Path

from tests.test_screenshots import PAGES, png_size

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    ids = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            ids.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return ids


def test_links_and_anchors_resolve():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(FENCE.sub("", doc.read_text())):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200, \
        "README.md is the front page: the detail goes to docs/"


def test_docs_show_a_screenshot_of_every_page():
    """The committed pictures exist, one per page, and the docs use them."""
    docs = (ROOT / "docs" / "using.md").read_text()
    for name in PAGES:
        path = ROOT / "docs" / "screenshots" / f"{name}.png"
        assert path.is_file(), f"{path} is missing: python -m scripts.screenshots"
        width, height = png_size(path)
        assert width >= 1000 and height >= 600, (path, width, height)
        assert f"screenshots/{name}.png" in docs, f"docs/using.md does not show {name}.png"


def test_readme_lists_every_page_url():
    """Each page the app registers has its URL in the README's table and in using.md."""
    app = (ROOT / "streamlit_app.py").read_text()
    names = re.findall(r'st\.Page\("pages/(\w+)\.py"', app)
    assert len(names) >= 7
    urls = ["/" if "default=True" in line else f"/{name}"
            for name, line in zip(names, [l for l in app.splitlines() if "st.Page(" in l])]
    for doc in (ROOT / "README.md", ROOT / "docs" / "using.md"):
        text = doc.read_text()
        missing = [u for u in urls if f"`{u}`" not in text]
        assert not missing, f"{doc.name} leaves out the page URLs {missing}"


def test_every_module_and_command_the_docs_name_exists():
    """A file path (core/train/loop.py, tests/test_x.py) or a `python -m` module the README
    or docs name is there: a move or a rename updates the docs too."""
    path = re.compile(r"\b((?:core|ui|pages|bench|scripts|tests)/[\w/]+\.(?:py|sh))\b")
    command = re.compile(r"python -m ((?:core|bench|scripts)(?:\.\w+)*)(?!\.<)")
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        missing += [f"{doc.name}: {p}" for p in sorted(set(path.findall(text)))
                    if not (ROOT / p).exists()]
        for module in sorted(set(command.findall(text))):
            base = ROOT / module.replace(".", "/")
            if not (base.with_suffix(".py").exists() or (base / "__main__.py").exists()):
                missing.append(f"{doc.name}: python -m {module}")
    assert missing == []
