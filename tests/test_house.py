"""The house rules a newcomer relies on, read from the source (docs/architecture.md):

- core's top level holds at most 10 entries, each a flow or a concept;
- no private name (a leading underscore) is reached across modules;
- nothing outside tests/ imports tests/;
- ui/ and pages/ reach the run system through core.runs.api (and its plain views), never
  through its database, scheduler or workers;
- an import inside a function says why it is not at the top (a comment on it or above);
- a package's docstring names every module it holds;
- core has no Streamlit looks (icon names) and code comments carry no dates or issue numbers.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ui", "pages", "bench", "scripts", "tests")
MAX_CORE_ENTRIES = 10
# What the web may import of core.runs: the door and the plain views it returns.
WEB_MAY_IMPORT = {"core.runs.api", "core.runs.snapshot", "core.runs.state", "core.runs.curves",
                  "core.runs.compare", "core.runs.sweeps", "core.runs.finetune",
                  "core.runs.retention", "core.runs.visitor_log"}


def sources() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project (tests included)."""
    found = {"streamlit_app": ROOT / "streamlit_app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


SOURCES = sources()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in SOURCES.items()}


def _imports(tree: ast.AST):
    """(node, imported module, names) of every import, lazy ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module, [a.name for a in node.names]


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def test_core_has_at_most_ten_entries_at_its_top():
    entries = sorted(p.name for p in (ROOT / "core").iterdir()
                     if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir()))
    assert len(entries) <= MAX_CORE_ENTRIES, entries


def test_no_private_name_is_reached_across_modules():
    found = []
    for module, tree in TREES.items():
        aliases = {}  # a name bound to one of our modules -> that module
        for node, target, names in _imports(tree):
            if not _ours(target):
                continue
            if isinstance(node, ast.Import):
                aliases[target.split(".")[0]] = target.split(".")[0]
            for name in names:
                if name.startswith("_") and target != module:
                    found.append(f"{module}: from {target} import {name}")
                full = f"{target}.{name}"
                if full in SOURCES:
                    aliases[name] = full
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and aliases.get(node.value.id, module) != module):
                found.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def test_nothing_outside_tests_imports_tests():
    found = [f"{module}: {target}" for module, tree in TREES.items()
             if not module.startswith("tests") for _, target, _ in _imports(tree)
             if target.split(".")[0] == "tests"]
    assert found == []


def test_the_web_reaches_the_run_system_through_its_door():
    found = []
    for module, tree in TREES.items():
        if module.split(".")[0] not in ("ui", "pages", "streamlit_app"):
            continue
        for _, target, names in _imports(tree):
            targets = [f"{target}.{n}" if f"{target}.{n}" in SOURCES else target for n in names] \
                or [target]
            found += [f"{module}: {t}" for t in targets
                      if t.startswith("core.runs") and t not in WEB_MAY_IMPORT]
    assert found == []


def _commented(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or above the block of imports it belongs to."""
    if "#" in lines[lineno - 1]:
        return True
    i = lineno - 2
    while i >= 0:
        text = lines[i].strip()
        if text.startswith("#") or "#" in lines[i]:
            return True
        if not (text.startswith(("import ", "from ")) or text.endswith((",", ")"))):
            return False
        i -= 1
    return False


def test_an_import_inside_a_function_says_why():
    found = []
    for module, tree in TREES.items():
        if module.startswith("tests"):
            continue
        lines = SOURCES[module].read_text().splitlines()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            found += [f"{module}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                      for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))
                      and not _commented(lines, node.lineno)]
    assert found == []


@pytest.mark.parametrize("package", sorted(
    str(p.parent.relative_to(ROOT)) for root in PACKAGES if root not in ("tests", "pages")
    for p in (ROOT / root).rglob("__init__.py")))
def test_a_package_docstring_names_its_modules(package):
    folder = ROOT / package
    doc = ast.get_docstring(TREES[package.replace("/", ".")]) or ""
    names = [p.stem for p in folder.iterdir()
             if (p.suffix in (".py", ".sh") and p.stem != "__init__")
             or (p.is_dir() and p.name != "__pycache__")]
    missing = [n for n in sorted(names) if not re.search(rf"\b{re.escape(n)}\b", doc)]
    assert missing == [], f"{package}/__init__.py's docstring does not name {missing}"


def test_core_has_no_streamlit_looks():
    found = [f"{m}:{n.lineno}" for m, tree in TREES.items() if m.startswith("core")
             for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and ":material/" in n.value]
    assert found == []


def test_code_comments_carry_no_dates_or_issue_numbers():
    history = re.compile(r"\b20\d\d-\d\d-\d\d\b|\b[Ii]ssue #?\d+|\bdefect \d+")
    found = []
    for module, path in SOURCES.items():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            comment = line.split("#", 1)[1] if "#" in line else ""
            if history.search(comment):
                found.append(f"{module}:{n}: {line.strip()}")
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                if history.search(doc):
                    found.append(f"{module}: a docstring says {history.search(doc).group(0)!r}")
    assert found == []
