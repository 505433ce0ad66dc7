"""ui/ is laid out by page: ui/common/ holds what several pages use, ui/<page>/ what only
pages/<page>.py uses. Imports between them point one way (common never imports a page's
package, a page's helpers never import another page's), and no ui or pages module is in an
import circle. Read from the source (scripts.import_graph), lazy imports included."""
from __future__ import annotations

from scripts.import_graph import ROOT, cycles, graph

COMMON = "ui.common"


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("ui", "pages")


def _page_package(module: str) -> str | None:
    """The page package a ui module lies in (ui.train for ui.train.form), else None."""
    parts = module.split(".")
    if parts[0] != "ui" or len(parts) < 2 or f"ui.{parts[1]}" == COMMON:
        return None
    return f"ui.{parts[1]}"


def test_no_import_circle_among_ui_and_pages_modules():
    circles = [c for c in cycles(graph()) if any(_ours(m) for m in c)]
    assert not circles, circles


def test_ui_holds_common_and_one_package_per_page():
    pages = {path.stem for path in (ROOT / "pages").glob("*.py")}
    for module in graph():
        if module.startswith("ui."):
            top = module.split(".")[1]
            assert (ROOT / "ui" / top).is_dir() and (top == "common" or top in pages), (
                f"{module}: neither in ui/common/ nor in the package of a page (pages/{top}.py)")


def test_a_page_package_imports_no_other_page_package():
    g = graph()
    for module, targets in g.items():
        own = _page_package(module)
        if own is None:
            continue
        others = {t for t in targets if _page_package(t) not in (None, own)}
        assert not others, f"{module} imports another page's helpers: {sorted(others)}"


def test_a_page_imports_no_other_page_package():
    for module, targets in graph().items():
        if not module.startswith("pages."):
            continue
        own = "ui." + module.split(".")[1]
        others = {t for t in targets if _page_package(t) not in (None, own)}
        assert not others, f"{module} imports another page's helpers: {sorted(others)}"


def test_common_imports_no_page_package():
    for module, targets in graph().items():
        if module == COMMON or module.startswith(COMMON + "."):
            pages = {t for t in targets if _page_package(t) is not None}
            assert not pages, f"{module} imports a page's helpers: {sorted(pages)}"
