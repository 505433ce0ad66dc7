"""The real app for tests and benchmarks: its data, a snapshot of its weights, and
`streamlit run` on a free 127.0.0.1 port, ended (and waited for) by whoever started it.

Used by the browser tests (tests/e2e), the benchmarks that drive the real server
(bench.serverload, bench.app_latency) and scripts.screenshots.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.data import DATASETS

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
SHIPPED_WEIGHTS = ROOT / "weights"
HEALTH_TIMEOUT_S = 60
HEALTH_POLL_S = 0.05  # the cold start is measured from the server's start: poll often
# The real MNIST / Fashion-MNIST: the documented $MNIST_STUDIO_DATA, else ../shared/data.
# Read once, at import: many tests point MNIST_STUDIO_DATA elsewhere for themselves.
REAL_DATA = Path(os.environ.get("MNIST_STUDIO_DATA") or ROOT.parent / "shared" / "data")


class ServerFailed(RuntimeError):
    """The server exited or stayed silent before its health endpoint answered."""


def real_data_present(name: str = "mnist") -> bool:
    return (REAL_DATA / DATASETS[name].folder / "raw" / "t10k-labels-idx1-ubyte").exists()


# ------------------------------------------------------------ data and weights

@dataclass
class AppSetup:
    data_root: Path
    real_data: bool  # the real MNIST / Fashion-MNIST (else tiny fake IDX files)
    weights: Path
    shipped_weights: bool  # a snapshot of the repo's weights/ (else a 1-epoch stand-in)
    runs: Path


def snapshot_shipped_weights(dest: Path) -> None:
    """Copy weights/ (manifest and finished checkpoints) so that a checkpoint being
    retrained in weights/ while the test runs cannot change what the app sees."""
    dest.mkdir(parents=True)
    shutil.copy2(SHIPPED_WEIGHTS / "manifest.json", dest / "manifest.json")
    if (SHIPPED_WEIGHTS / "ood.json").is_file():  # the "I don't know" thresholds
        shutil.copy2(SHIPPED_WEIGHTS / "ood.json", dest / "ood.json")
    for path in SHIPPED_WEIGHTS.glob("*.pt"):
        if not path.name.endswith(".last.pt"):  # resumable state of a run in progress
            shutil.copy2(path, dest / path.name)
    # Their test-set results (Evaluate, Mistakes); the defaults' training-set features
    # (nearest images), embedding maps (Inside the model) and accuracy under attack
    # (Evaluate).
    for folder in ("predictions", "neighbours", "embeddings", "robust"):
        if (SHIPPED_WEIGHTS / folder).is_dir():
            shutil.copytree(SHIPPED_WEIGHTS / folder, dest / folder)


def train_stand_in_weights(dest: Path, data_root: Path) -> None:
    """Without shipped weights: a 1-epoch ffnn and a manifest naming it as the default."""
    dest.mkdir(parents=True)
    out = dest / "mnist-ffnn.pt"
    cmd = [sys.executable, "-m", "core.train", "--dataset", "mnist", "--model", "ffnn",
           "--epochs", "1", "--seed", "0", "--device", "cpu", "--data-dir", str(data_root),
           # constant: OneCycleLR divides by zero over the few steps of the fake data
           "--schedule", "constant",
           "--out", str(out), "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"training the stand-in model failed:\n{done.stderr[-3000:]}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    out.with_suffix(".last.pt").unlink(missing_ok=True)
    manifest = {"default": {"mnist": out.name}, "checkpoints": [{
        "file": out.name, "dataset": "mnist", "architecture": "ffnn",
        "test_accuracy": summary["test_accuracy"], "val_accuracy": summary["val_accuracy"],
        "epochs": 1, "train_seconds": summary["train_seconds"], "device": summary["device"],
        "seed": 0, "command": " ".join(["python"] + cmd[1:])}]}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1))


# ----------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def stop_server(proc: subprocess.Popen) -> None:
    """The server runs in its own process group: end the group, politely first."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class App:
    url: str
    setup: AppSetup
    log: Path  # the server's stderr (Streamlit logs there)
    timings: Path  # the server's per-run timings, one JSON line per script run (ui.common.timings)
    started: float  # time.time() just before the server's Popen (the browser's clock
    healthy: float  # is the same epoch); and when its health endpoint first answered


@contextmanager
def serve(setup: AppSetup, output_dir: Path, name: str = "server",
          extra_args: tuple[str, ...] = (), app_root: Path = ROOT) -> Iterator[App]:
    """`streamlit run streamlit_app.py` on a free localhost port (127.0.0.1 only), its
    logs in output_dir/<name>-stdout.log and <name>-stderr.log, its script runs' timings
    in <name>-timings.jsonl; extra_args go to streamlit. `app_root`: the checkout whose
    app is served (another commit's, for a benchmark side by side; this one's by default).
    The server runs in a process group of its own, ended (and waited for) on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    timings = output_dir / f"{name}-timings.jsonl"
    timings.unlink(missing_ok=True)
    env = dict(os.environ,
               MNIST_STUDIO_DATA=str(setup.data_root),
               MNIST_STUDIO_RUNS=str(setup.runs),
               MNIST_STUDIO_WEIGHTS=str(setup.weights),
               # Evaluations are cached by checkpoint and data bytes: safe to keep
               # between test runs, and outside the repo's own .cache.
               MNIST_STUDIO_CACHE=str(output_dir / "eval-cache"),
               MNIST_STUDIO_TIMINGS=str(timings),
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", *extra_args]
    stdout_path, stderr_path = output_dir / f"{name}-stdout.log", output_dir / f"{name}-stderr.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.time()
        proc = subprocess.Popen(cmd, cwd=app_root, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not healthy(url):
            if proc.poll() is not None:
                raise ServerFailed(f"streamlit exited with {proc.returncode} before answering; "
                                   f"see {stderr_path}:\n{stderr_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise ServerFailed(f"{url}/_stcore/health did not answer 'ok' within "
                                   f"{HEALTH_TIMEOUT_S} s; see {stderr_path}")
            time.sleep(HEALTH_POLL_S)
        yield App(url=url, setup=setup, log=stderr_path, timings=timings, started=started,
                  healthy=time.time())
    finally:
        stop_server(proc)
