from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The page tests' fixtures (env, weights), for every test module.
pytest_plugins = ["tests.apptest"]

from bench.appserver import REAL_DATA, real_data_present  # noqa: E402
from bench.fakedata import write_fake_dataset  # noqa: E402
from bench.procs import wait_gone, with_command, with_environment  # noqa: E402
from core.runs.api import RunService  # noqa: E402
from core.server.settings import load_settings  # noqa: E402

needs_real_data = pytest.mark.skipif(not real_data_present() or not real_data_present("fashion"),
                                     reason=f"real MNIST/Fashion-MNIST not found under {REAL_DATA}")


@pytest.fixture(autouse=True)
def main_module_restored():
    """Streamlit's script runner (AppTest's too) puts the page's script in sys.modules as
    __main__ and leaves it there; a process started with forkserver or spawn afterwards
    would run that script again as its own __main__ (an AppTest.from_function script
    fails there). Each test gets back the __main__ it started with."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def fake_data_root(tmp_path_factory) -> Path:
    """A data root with tiny IDX files for both datasets (500 train, 100 test each)."""
    root = tmp_path_factory.mktemp("fake-data")
    write_fake_dataset(root, "mnist", seed=1)
    write_fake_dataset(root, "fashion", seed=2)
    return root


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    if not (real_data_present() and real_data_present("fashion")):
        pytest.skip(f"real data not found under {REAL_DATA}")
    return REAL_DATA


@pytest.fixture()
def make_service(tmp_path, fake_data_root, monkeypatch):
    """RunServices on one runs folder; every scheduler they start (and its workers) ends with
    the test, and the test fails if one is left."""
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(fake_data_root))  # before any scheduler starts
    for name in ("RAY_ADDRESS", "MNIST_STUDIO_EXECUTOR", "MNIST_STUDIO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runs = tmp_path / "runs"
    made = []

    def make(start_scheduler: bool = True, **overrides) -> RunService:
        settings = load_settings(tmp_path / "no-studio.toml", **{"workers": 1, **overrides})
        made.append(RunService(runs, settings, start_scheduler=start_scheduler))
        return made[-1]
    yield make
    for service in made:
        service.shutdown()
    assert wait_gone(lambda: with_command(f"core.runs.scheduler --runs {runs}")) == []
    assert wait_gone(lambda: with_environment("MNIST_STUDIO_DATA", str(fake_data_root))) == []
