"""Where the project's folders are: one rule for data, weights, runs and the cache."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
RUNS_ENV = "MNIST_STUDIO_RUNS"


def configured_dir(explicit: str | os.PathLike | None, env_var: str, default: Path) -> Path:
    """The explicit argument, else the environment variable, else the default."""
    chosen = explicit or os.environ.get(env_var)
    return Path(chosen).expanduser().resolve() if chosen else default


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The runs folder: the argument, else $MNIST_STUDIO_RUNS, else <repo>/runs.

    The one rule, used by the run service, `core.train --register` and the app's
    identity, which needs the folder (its signing secret lives there) before torch:
    so it lives here, not in the run service, which imports torch.
    """
    return configured_dir(explicit, RUNS_ENV, ROOT / "runs")
