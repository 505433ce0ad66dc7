"""Deployment settings for a shared server: one documented place.

Each setting has a default that suits a 2-core server shared by a class, and
can be changed in a TOML file (`MNIST_STUDIO_CONFIG`, default <repo>/studio.toml)
or by an environment variable, which wins:

    # studio.toml
    [runs]
    executor = "local"          # or "ray"
    workers = 1                 # local training processes at once
    max_active_per_visitor = 2  # one training, one waiting
    max_queue = 8               # queued runs on the whole server
    max_run_minutes = 10.0      # estimated minutes one run may cost
    show_others = true          # others' runs visible read-only (a leaderboard)
    save_seconds = 30.0         # mid-epoch resumable saves at most this often
    handwriting_items = 500     # drawings one visitor may keep in their handwriting set
    max_stored_mb = 2000.0      # a visitor's runs and uploads, at most
    max_uploads_per_visitor = 20
    min_free_mb = 500.0         # below this much free disk: no new runs or uploads
    keep_runs = 50              # retention: a visitor's 50 newest runs stay...
    keep_days = 30.0            # ...and so does any run newer than 30 days
    max_new_visitors_per_address = 0  # per hour; 0: off (a laptop), e.g. 20 on a public page
    max_active_per_address = 0
    trusted_proxies = 0         # 1 behind one nginx: the client is X-Forwarded-For's last hop
    max_layers = 40             # a custom model's size (core.networks.spec), checked before it queues
    max_parameters = 5000000
    max_mflops = 200.0          # forward MFLOPs per image
    max_sweep_trials = 12       # a sweep's trials (values x seeds), checked before it starts
    max_sweep_parallel = 1      # trials of one sweep queued or training at once
    max_active_sweeps = 1       # sweeps one visitor may have running
    ray_address = ""            # "auto" or "ray://host:10001"; also RAY_ADDRESS

The admin token is a secret: set it in .streamlit/secrets.toml (`admin_token`)
or MNIST_STUDIO_ADMIN_TOKEN, never in studio.toml. One shorter than
MIN_ADMIN_TOKEN_CHARS is refused (load_settings raises SettingsError; the app shows
only that message): with the sidebar's box slowed after a few wrong tries
(core/server/throttle.py), 16 random characters cannot be guessed. No Streamlit here:
the web layer checks secrets.toml's value with check_admin_token (ui/common/identity.py).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.networks.spec import Bounds

ROOT = Path(__file__).resolve().parents[2]
ENV_CONFIG = "MNIST_STUDIO_CONFIG"
EXECUTORS = ("local", "ray")
MIN_ADMIN_TOKEN_CHARS = 16
ENV_ADMIN_TOKEN = "MNIST_STUDIO_ADMIN_TOKEN"
NEW_TOKEN_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what to do."""


def check_admin_token(token: str, where: str) -> None:
    """SettingsError for a configured admin token too short to resist guessing (none is fine)."""
    if token and len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise SettingsError(
            f"The admin token ({where}) has {len(token)} characters; it needs at least "
            f"{MIN_ADMIN_TOKEN_CHARS}, so that it cannot be guessed. Make one with "
            f"{NEW_TOKEN_COMMAND}, or remove it (no admin box then).")


def _gpu_count() -> int:
    # Imported here: settings are read by the web process before torch is needed.
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class RunSettings:
    executor: str = field(default="local", metadata={
        "env": "MNIST_STUDIO_EXECUTOR", "help": "where runs train: local worker processes, or a Ray cluster"})
    workers: int = field(default=0, metadata={
        "env": "MNIST_STUDIO_WORKERS", "help": "local training processes at once (0: one per GPU, else one)"})
    max_active_per_visitor: int = field(default=2, metadata={
        "env": "MNIST_STUDIO_MAX_ACTIVE", "help": "queued or training runs one visitor may have"})
    max_queue: int = field(default=8, metadata={
        "env": "MNIST_STUDIO_MAX_QUEUE", "help": "queued runs on the whole server"})
    max_run_minutes: float = field(default=10.0, metadata={
        "env": "MNIST_STUDIO_MAX_RUN_MINUTES", "help": "the estimated minutes one run may cost"})
    show_others: bool = field(default=True, metadata={
        "env": "MNIST_STUDIO_SHOW_OTHERS", "help": "other visitors' runs visible read-only"})
    ray_address: str = field(default="", metadata={
        "env": "RAY_ADDRESS", "help": "a Ray cluster to train on (implies executor ray)"})
    cpu_gflops: float = field(default=40.0, metadata={
        "env": "MNIST_STUDIO_CPU_GFLOPS", "help": "training GFLOP/s a CPU worker sustains (cost estimates)"})
    gpu_gflops: float = field(default=5000.0, metadata={
        "env": "MNIST_STUDIO_GPU_GFLOPS", "help": "training GFLOP/s a GPU worker sustains (cost estimates)"})
    cpu_step_ms: float = field(default=1.0, metadata={
        "env": "MNIST_STUDIO_CPU_STEP_MS", "help": "fixed cost of one training step on a CPU worker, ms (cost estimates)"})
    gpu_step_ms: float = field(default=0.3, metadata={
        "env": "MNIST_STUDIO_GPU_STEP_MS", "help": "fixed cost of one training step on a GPU worker, ms (cost estimates)"})
    save_seconds: float = field(default=30.0, metadata={
        "env": "MNIST_STUDIO_SAVE_SECONDS", "help": "a training run saves resumable state at most this often mid-epoch"})
    handwriting_items: int = field(default=500, metadata={
        "env": "MNIST_STUDIO_HANDWRITING_ITEMS",
        "help": "labelled drawings one visitor may keep in their handwriting set (each ~1 KB)"})
    # Storage (core/runs/quotas.py, retention.py): generous for a laptop, tighter for a
    # public page. A visitor over a cap, or a disk under the floor, gets no new run or upload.
    max_stored_mb: float = field(default=2000.0, metadata={
        "env": "MNIST_STUDIO_MAX_STORED_MB",
        "help": "MB one visitor may keep: their runs' folders and uploads (0: no cap)"})
    max_uploads_per_visitor: int = field(default=20, metadata={
        "env": "MNIST_STUDIO_MAX_UPLOADS", "help": "uploaded checkpoints one visitor may keep (0: no cap)"})
    min_free_mb: float = field(default=500.0, metadata={
        "env": "MNIST_STUDIO_MIN_FREE_MB",
        "help": "free disk (MB) below which new runs and uploads are refused (0: no floor)"})
    keep_runs: int = field(default=50, metadata={
        "env": "MNIST_STUDIO_KEEP_RUNS",
        "help": "retention: a visitor's newest runs kept whatever their age (0: age alone decides)"})
    keep_days: float = field(default=30.0, metadata={
        "env": "MNIST_STUDIO_KEEP_DAYS",
        "help": "retention: runs newer than this are kept (0: count alone decides; both 0: keep all)"})
    prune_minutes: float = field(default=10.0, metadata={
        "env": "MNIST_STUDIO_PRUNE_MINUTES",
        "help": "the scheduler applies retention this often (0: only `python -m core.runs prune`)"})
    # Limits per client address, behind the per-visitor ones (a script that drops its
    # cookie is a new visitor, not a new address). Off (0) for a single-user laptop.
    max_new_visitors_per_address: int = field(default=0, metadata={
        "env": "MNIST_STUDIO_MAX_NEW_VISITORS",
        "help": "new visitor ids one client address gets per hour; past it, its cookie-less "
                "sessions share one id (0: no limit)"})
    max_active_per_address: int = field(default=0, metadata={
        "env": "MNIST_STUDIO_MAX_ACTIVE_PER_ADDRESS",
        "help": "queued or training runs from one client address (0: no limit)"})
    max_uploads_per_address: int = field(default=0, metadata={
        "env": "MNIST_STUDIO_MAX_UPLOADS_PER_ADDRESS",
        "help": "uploaded checkpoints kept by the visitors of one client address (0: no limit)"})
    trusted_proxies: int = field(default=0, metadata={
        "env": "MNIST_STUDIO_TRUSTED_PROXIES",
        "help": "reverse proxies in front of the app: the client is the X-Forwarded-For hop "
                "this many from the end (0: the connection's own address)"})
    # A custom model (core.networks.spec): its size, checked before it is queued. The defaults admit
    # every built-in (the largest: 15 layers, 0.94 M parameters, 73 MFLOPs per image).
    max_layers: int = field(default=40, metadata={
        "env": "MNIST_STUDIO_MAX_LAYERS", "help": "layers of a custom model (0: no limit)"})
    max_parameters: int = field(default=5_000_000, metadata={
        "env": "MNIST_STUDIO_MAX_PARAMETERS", "help": "parameters of a custom model (0: no limit)"})
    max_mflops: float = field(default=200.0, metadata={
        "env": "MNIST_STUDIO_MAX_MFLOPS",
        "help": "forward MFLOPs per image of a custom model (0: no limit)"})
    # Sweeps (core/runs/sweeps.py): each trial is a run under the limits above; these cap
    # a sweep as a whole, so that one sweep cannot fill the queue.
    max_sweep_trials: int = field(default=12, metadata={
        "env": "MNIST_STUDIO_MAX_SWEEP_TRIALS", "help": "trials of one sweep (values x seeds)"})
    max_sweep_parallel: int = field(default=1, metadata={
        "env": "MNIST_STUDIO_MAX_SWEEP_PARALLEL",
        "help": "trials of one sweep queued or training at once"})
    max_active_sweeps: int = field(default=1, metadata={
        "env": "MNIST_STUDIO_MAX_ACTIVE_SWEEPS", "help": "sweeps one visitor may have running"})
    admin_token: str = field(default="", repr=False, metadata={
        "env": ENV_ADMIN_TOKEN,
        "help": f"a secret that makes a visitor admin (at least {MIN_ADMIN_TOKEN_CHARS} characters)",
        "secret": True})

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        for name in ("workers", "max_active_per_visitor", "max_queue", "handwriting_items", "max_stored_mb",
                     "max_uploads_per_visitor", "min_free_mb", "keep_runs", "keep_days",
                     "prune_minutes", "max_new_visitors_per_address", "max_active_per_address",
                     "max_uploads_per_address", "trusted_proxies", "max_layers",
                     "max_parameters", "max_mflops", "max_active_sweeps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.max_run_minutes > 0 or not self.cpu_gflops > 0 or not self.gpu_gflops > 0:
            raise ValueError("max_run_minutes, cpu_gflops and gpu_gflops must be > 0")
        if self.max_sweep_trials < 1 or self.max_sweep_parallel < 1:
            raise ValueError("max_sweep_trials and max_sweep_parallel must be >= 1")
        if not self.save_seconds >= 0:
            raise ValueError(f"save_seconds must be >= 0, got {self.save_seconds}")
        check_admin_token(self.admin_token, f"{ENV_ADMIN_TOKEN} or studio.toml's admin_token")

    @property
    def address_limits(self) -> bool:
        """Any limit per client address is on (then identities record their address)."""
        return bool(self.max_new_visitors_per_address or self.max_active_per_address
                    or self.max_uploads_per_address)

    @property
    def model_bounds(self) -> "Bounds":
        # Here, not with the settings: the entry script reads them, and the spec imports torch.
        from core.networks.spec import Bounds
        return Bounds(self.max_layers, self.max_parameters, self.max_mflops)

    @property
    def retention(self) -> bool:
        return bool(self.keep_runs or self.keep_days)

    @property
    def uses_ray(self) -> bool:
        return self.executor == "ray" or bool(self.ray_address)

    def worker_count(self) -> int:
        return self.workers or max(1, _gpu_count())


def _coerce(kind: Any, value: Any) -> Any:
    if kind in (bool, "bool") and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(value)
    if kind in (float, "float"):
        return float(value)
    return value if kind not in (str, "str") else str(value)


def config_file() -> Path:
    return Path(os.environ.get(ENV_CONFIG) or ROOT / "studio.toml")


def load_settings(path: str | os.PathLike | None = None, **overrides: Any) -> RunSettings:
    """Defaults, then the TOML file's [runs] table, then environment variables, then overrides."""
    path = Path(path) if path else config_file()
    values: dict[str, Any] = {}
    if path.is_file():
        with open(path, "rb") as f:
            values.update(tomllib.load(f).get("runs", {}))
        unknown = set(values) - {f.name for f in fields(RunSettings)}
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) in [runs]: {sorted(unknown)}")
    for f in fields(RunSettings):
        env = os.environ.get(f.metadata["env"])
        if env not in (None, ""):
            values[f.name] = env
    values.update(overrides)
    typed = {f.name: _coerce(f.type, values[f.name]) for f in fields(RunSettings) if f.name in values}
    return RunSettings(**typed)


def settings_table() -> list[tuple[str, str, str, str]]:
    """(setting, environment variable, default, meaning) rows, for docs/deploying.md and --help."""
    return [(f.name, f.metadata["env"], repr(f.default), f.metadata["help"])
            for f in fields(RunSettings)]


if __name__ == "__main__":  # python -m core.server.settings: docs/deploying.md's table of settings
    print("| setting (`studio.toml`, `[runs]`) | environment variable | default | meaning |")
    print("|---|---|---|---|")
    for name, env, default, meaning in settings_table():
        print(f"| `{name}` | `{env}` | `{default}` | {meaning} |")
