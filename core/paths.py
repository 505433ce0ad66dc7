"""Where the project's folders are: one rule for data, weights, runs and the cache."""
from __future__ import annotations

import os
from pathlib import Path


def configured_dir(explicit: str | os.PathLike | None, env_var: str, default: Path) -> Path:
    """The explicit argument, else the environment variable, else the default."""
    chosen = explicit or os.environ.get(env_var)
    return Path(chosen).expanduser().resolve() if chosen else default
