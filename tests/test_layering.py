"""The layers of core/ as docs/architecture.md draws them: no import circle, the trainer
(core/train) below the run system (core/runs), and no web layer under core."""
from __future__ import annotations

import ast

from scripts.import_graph import cycles, graph, modules


def _core(name: str) -> bool:
    return name == "core" or name.startswith("core.")


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_no_import_circle_among_core_modules():
    g = graph()
    core = {m: {t for t in targets if _core(t)} for m, targets in g.items() if _core(m)}
    assert cycles(core) == []


def test_the_trainer_does_not_import_the_run_system():
    """Only the program's entry point hands the run system's registrar to the command line."""
    g = graph()
    offenders = {m: sorted(t for t in targets if _in(t, "core.runs"))
                 for m, targets in g.items() if _in(m, "core.train") and m != "core.train.__main__"}
    assert {m: t for m, t in offenders.items() if t} == {}
    assert "core.runs.register" in g["core.train.__main__"]


def test_core_imports_no_streamlit_ui_or_pages():
    web = ("streamlit", "ui", "pages")
    found = []
    for module, path in modules().items():
        if not _core(module):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{module}: {n}" for n in names if n.split(".")[0] in web]
    assert found == []


FOUNDATIONS = ("core.data", "core.networks", "core.machine", "core.server")
FLOWS = ("core.train", "core.predict", "core.evaluate", "core.export", "core.runs")
FOUNDATIONS_MAY_IMPORT = {"core.evaluate.percent"}  # one rounding rule for every percent shown


def test_foundations_import_no_flow():
    g = graph()
    found = {m: sorted(t for t in targets if _in_any(t, FLOWS) and t not in FOUNDATIONS_MAY_IMPORT)
             for m, targets in g.items() if _in_any(m, FOUNDATIONS)}
    assert {m: t for m, t in found.items() if t} == {}


def _in_any(name: str, packages: tuple[str, ...]) -> bool:
    return any(_in(name, p) for p in packages)
