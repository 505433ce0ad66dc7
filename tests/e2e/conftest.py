"""Fixtures for the browser test: a real `streamlit run` server and Debian's chromium.

Everything the test writes goes under test-output/ (gitignored): screenshots,
the server's stdout/stderr and its per-run timings (ui/common/timings.py), the browser
console, and the measured timings.
Training runs go to a temporary folder, never to the repo's runs/.

Environment:
    MNIST_STUDIO_DATA                  the real datasets (default ../shared/data); else fake ones
    MNIST_STUDIO_REQUIRE_BROWSER=1     fail (instead of skip) when playwright or chromium is missing
    MNIST_STUDIO_UPDATE_SCREENSHOTS=1  also write docs/screenshots/<page>.png (five pages; python -m scripts.screenshots takes all eight)
    MNIST_STUDIO_E2E_FAKE_DATA=1       use the tiny fake datasets even when the real data is present
    MNIST_STUDIO_E2E_STAND_IN_WEIGHTS=1  train a 1-epoch model instead of using weights/
    CHROMIUM                           the browser binary (default /usr/bin/chromium)
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

import pytest

from tests.conftest import REAL_DATA, real_data_present
from tests.fakedata import write_fake_dataset

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
SHIPPED_WEIGHTS = ROOT / "weights"

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("MNIST_STUDIO_REQUIRE_BROWSER") == "1"
UPDATE_DOCS = os.environ.get("MNIST_STUDIO_UPDATE_SCREENSHOTS") == "1"
FORCE_FAKE_DATA = os.environ.get("MNIST_STUDIO_E2E_FAKE_DATA") == "1"
FORCE_STAND_IN = os.environ.get("MNIST_STUDIO_E2E_STAND_IN_WEIGHTS") == "1"
VIEWPORT = {"width": 1280, "height": 900}
HEALTH_TIMEOUT_S = 60
HEALTH_POLL_S = 0.05  # the cold start is measured from the server's start: poll often


def chromium_path() -> str | None:
    """The browser binary: $CHROMIUM as a path, or a name found on PATH."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which(CHROMIUM)


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"the playwright package is missing ({err}): pip install -r requirements-dev.txt"
    if chromium_path() is None:
        return (f"no chromium at {CHROMIUM}: apt-get install chromium, or point $CHROMIUM "
                "at a Chromium binary")
    return None


@pytest.fixture(scope="module")
def browser_ready() -> str:
    """Skip the module without a browser; fail instead where CI demands one."""
    reason = browser_missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"MNIST_STUDIO_REQUIRE_BROWSER=1, but {reason}", pytrace=False)
        pytest.skip(f"browser test skipped: {reason}")
    return chromium_path()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """test-output/, its screenshots emptied once per test session (not per module:
    each module's screenshots stay for people to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return OUTPUT


# ------------------------------------------------------------ data and weights

@dataclass
class AppSetup:
    data_root: Path
    real_data: bool  # the real MNIST / Fashion-MNIST (else tiny fake IDX files)
    weights: Path
    shipped_weights: bool  # a snapshot of the repo's weights/ (else a 1-epoch stand-in)
    runs: Path


def _snapshot_shipped_weights(dest: Path) -> None:
    """Copy weights/ (manifest and finished checkpoints) so that a checkpoint being
    retrained in weights/ while the test runs cannot change what the app sees."""
    dest.mkdir(parents=True)
    shutil.copy2(SHIPPED_WEIGHTS / "manifest.json", dest / "manifest.json")
    if (SHIPPED_WEIGHTS / "ood.json").is_file():  # the "I don't know" thresholds
        shutil.copy2(SHIPPED_WEIGHTS / "ood.json", dest / "ood.json")
    for path in SHIPPED_WEIGHTS.glob("*.pt"):
        if not path.name.endswith(".last.pt"):  # resumable state of a run in progress
            shutil.copy2(path, dest / path.name)
    if (SHIPPED_WEIGHTS / "predictions").is_dir():  # their test-set results (Evaluate, Mistakes)
        shutil.copytree(SHIPPED_WEIGHTS / "predictions", dest / "predictions")


def _train_stand_in_weights(dest: Path, data_root: Path) -> None:
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


@pytest.fixture(scope="module")
def app_setup(tmp_path_factory) -> AppSetup:
    base = tmp_path_factory.mktemp("e2e")
    if not FORCE_FAKE_DATA and real_data_present() and real_data_present("fashion"):
        data_root, real = REAL_DATA, True
    else:
        data_root, real = base / "data", False
        write_fake_dataset(data_root, "mnist", seed=1)
        write_fake_dataset(data_root, "fashion", seed=2)
    weights = base / "weights"
    shipped = not FORCE_STAND_IN and (SHIPPED_WEIGHTS / "manifest.json").is_file()
    if shipped:
        _snapshot_shipped_weights(weights)
    else:
        _train_stand_in_weights(weights, data_root)
    runs = base / "runs"
    runs.mkdir()
    return AppSetup(data_root=data_root, real_data=real, weights=weights,
                    shipped_weights=shipped, runs=runs)


# ----------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def _stop_server(proc: subprocess.Popen) -> None:
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
          extra_args: tuple[str, ...] = ()) -> Iterator[App]:
    """`streamlit run streamlit_app.py` on a free localhost port (127.0.0.1 only), its
    logs in output_dir/<name>-stdout.log and <name>-stderr.log, its script runs' timings
    in <name>-timings.jsonl; extra_args go to streamlit.
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
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode} before answering; see "
                            f"{stderr_path}:\n{stderr_path.read_text()[-3000:]}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{url}/_stcore/health did not answer 'ok' within "
                            f"{HEALTH_TIMEOUT_S} s; see {stderr_path}", pytrace=False)
            time.sleep(HEALTH_POLL_S)
        yield App(url=url, setup=setup, log=stderr_path, timings=timings, started=started,
                  healthy=time.time())
    finally:
        _stop_server(proc)


@pytest.fixture(scope="module")
def app(browser_ready, app_setup: AppSetup, output_dir: Path) -> App:
    """`streamlit run streamlit_app.py` on a free localhost port, for this module."""
    with serve(app_setup, output_dir) as served:
        yield served


# ---------------------------------------------------------------- the browser

# Installed in every tab before the app's own scripts: when the websocket sends and
# receives messages, and when a canvas is encoded (the drawing canvas sends its image as
# a PNG data URL), in epoch ms, the clock the server's timings use (ui.common.timings), so a
# stroke's time can be split at those points (tests/e2e/test_browser.py).
BROWSER_CLOCK = """(() => {
  const clock = window.__e2eClock = {sent: [], received: [], encoded: []};
  const now = () => performance.timeOrigin + performance.now();
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => clock.received.push(now()));
    }
    send(data) { clock.sent.push(now()); return super.send(data); }
  };
  const toDataURL = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function (...args) {
    const start = now();
    const url = toDataURL.apply(this, args);
    clock.encoded.push([start, now()]);
    return url;
  };
})();"""


def new_tab(browser, **context_args):
    """A new browser context and its page, with BROWSER_CLOCK installed."""
    context = browser.new_context(**{"viewport": VIEWPORT, "device_scale_factor": 1,
                                     **context_args})
    page = context.new_page()
    page.add_init_script(BROWSER_CLOCK)
    return context, page


@pytest.fixture(scope="module")
def browser(browser_ready: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_ready, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(browser, app: App, output_dir: Path):
    """One tab for the whole module (one Streamlit session), its console kept in a file."""
    context, page = new_tab(browser)
    page.set_default_timeout(30_000)
    console = open(output_dir / "browser-console.log", "w")
    page.on("console", lambda msg: console.write(f"[{msg.type}] {msg.text}\n"))
    page.on("pageerror", lambda err: console.write(f"[pageerror] {err}\n"))
    page.on("requestfailed", lambda req: console.write(
        f"[requestfailed] {req.url} ({req.failure})\n"))
    try:
        yield page
    finally:
        context.close()
        console.close()


@pytest.fixture(scope="module")
def timings(output_dir: Path):
    """Measurements the tests add to; written to test-output/e2e-timings.json at the end."""
    record: dict = {}
    yield record
    (output_dir / "e2e-timings.json").write_text(json.dumps(record, indent=2) + "\n")
