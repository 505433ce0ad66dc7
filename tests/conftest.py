from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data import DATASETS  # noqa: E402
from tests.fakedata import write_fake_dataset  # noqa: E402

# The real MNIST / Fashion-MNIST: the documented $MNIST_STUDIO_DATA, else ../shared/data.
# Read once, here, at import: many tests point MNIST_STUDIO_DATA elsewhere for themselves.
REAL_DATA = Path(os.environ.get("MNIST_STUDIO_DATA") or ROOT.parent / "shared" / "data")


def real_data_present(name: str = "mnist") -> bool:
    return (REAL_DATA / DATASETS[name].folder / "raw" / "t10k-labels-idx1-ubyte").exists()


needs_real_data = pytest.mark.skipif(not real_data_present() or not real_data_present("fashion"),
                                     reason=f"real MNIST/Fashion-MNIST not found under {REAL_DATA}")


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
