"""The README and docs/*.md hold together: every relative link reaches a file, every
#anchor a heading of that file (GitHub's rule for heading ids), the README stays a
front page, and docs/using.md shows a committed screenshot of every page."""
from __future__ import annotations

import re
from pathlib import Path

from bench.browser import DOCS_NAMES, PAGES as TITLES
from tests.test_screenshots import PAGES, app_pages, png_size

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
            if re.fullmatch(r"(docs/)?screenshots/\w+\.png", target):
                continue  # the pages' pictures: test_every_page_is_listed_and_pictured
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
    """docs/using.md shows every page's picture; those committed are screenshots."""
    docs = (ROOT / "docs" / "using.md").read_text()
    for name in PAGES:
        assert f"screenshots/{name}.png" in docs, f"docs/using.md does not show {name}.png"
        path = ROOT / "docs" / "screenshots" / f"{name}.png"
        if path.is_file():  # a missing one: test_every_page_is_listed_and_pictured
            width, height = png_size(path)
            assert width >= 1000 and height >= 600, (path, width, height)


NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve"]


def test_every_page_is_listed_and_pictured():
    """Every page streamlit_app.py registers is in docs/using.md's list of URLs (and its
    count of pages), in the README's table of pages, and has its picture in
    docs/screenshots/ (python -m scripts.screenshots takes them all). using.md said
    "seven pages" and left /handwriting out; there was no handwriting.png."""
    pages = app_pages()
    assert len(pages) >= 8 and pages[0].url == "/"
    intro = (ROOT / "docs" / "using.md").read_text().split("<!-- pages:start -->")[0]
    readme = (ROOT / "README.md").read_text()
    problems = []
    count = re.search(r"serves (\w+) pages", intro)
    if count is None or count.group(1) != NUMBERS[len(pages)]:
        problems.append(f"docs/using.md: 'serves {count and count.group(1)} pages', the app "
                        f"has {NUMBERS[len(pages)]}")
    for page in pages:
        if f"`{page.url}`" not in intro:
            problems.append(f"{page.title}: {page.url} is not in docs/using.md's list of URLs")
        if not re.search(rf"^\| {re.escape(page.title)} \| `{re.escape(page.url)}` \|", readme,
                         re.M):
            problems.append(f"{page.title}: no row '| {page.title} | `{page.url}` |' in the "
                            "README's table of pages")
        picture = ROOT / "docs" / "screenshots" / f"{page.name}.png"
        if not picture.is_file():
            problems.append(f"{page.title}: no docs/screenshots/{page.name}.png (python -m "
                            "scripts.screenshots takes every page's)")
    assert not problems, "\n".join(problems)


def test_the_screenshot_script_pictures_every_page():
    """scripts/screenshots.py takes one picture per title of the browser test's page list,
    named by DOCS_NAMES, and checks it wrote them all: that list is the app's."""
    pages = app_pages()
    assert TITLES == [p.title for p in pages]
    assert [DOCS_NAMES[t] for t in TITLES] == [p.name for p in pages]


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
