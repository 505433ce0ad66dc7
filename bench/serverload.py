"""A load test through the real server: `streamlit run`, and visitors over its websocket.

    MNIST_STUDIO_DATA=/path/to/data python -m bench.serverload \\
        [--visitors 5 10 20 40 80] [--seconds 45] [--servers 1] [--browsers 2] [--json FILE]
        [--app-root DIR] [--train-epochs 1] [--proxy]

For each visitor count, a fresh server (`streamlit run streamlit_app.py` on 127.0.0.1,
its own runs folder, the shipped weights; `--servers K` starts K app processes sharing
that runs folder, visitors spread over them) and, at once, that many visitors, each a
real session over the server's websocket (bench/protocol.py: Streamlit's own protobuf
messages, what the browser sends):
- drawers (70%): on Classify, a digit drawn (bench/strokes.py: the canvas's value as the
  browser sends it) every 1.5-2.5 s; each is timed from send to the Prediction arriving;
- page-switchers (20%): a page of the menu every 3-6 s, timed to its script's end;
- trainers (10%, at least one): on Train, a 1-epoch `ffnn-small` started with the Start
  button, then its live view polled once a second, as the browser's timer does.
  `--train-epochs N` (N > 1) makes those runs long enough to train through the whole
  level (a training run going on while the others draw, in the app's own worker); at
  the level's end they are stopped, as the Stop button does, not waited for.
`--browsers B` adds B headless Chromium tabs drawing on Classify's canvas with the mouse,
timed from mouse-up to the prediction on screen (tests/e2e's helpers): the end to end;
and to the whole answer on screen (the page's last change before it stays quiet).
`--proxy` puts a sticky nginx in front (bench/proxy.py, as docs/deploying.md deploys
several processes): every visitor and browser goes through it, and nginx picks each
one's process by the route cookie it gave on the first visit.
`--app-root DIR` serves another checkout's app (the code before a change, side by side
with the same benchmark); the weights and data are the same for both.

Per level it prints: stroke -> prediction p50/p95 (client side; and the server's share,
the Classify fragment's script time from MNIST_STUDIO_TIMINGS), page switches, errors
(exceptions shown, timeouts) and dropped sessions, runs started/refused/finished and
lost (a run whose state is impossible or whose files are missing: must be 0), the
strokes answered "busy, retrying" (a full model queue: not an error) and those given up
as too busy, the server's CPU (all its processes: web, runner, workers; in cores) and
its peak memory: each process's resident set (RSS; the web process's apart) and the
whole tree's proportional set (PSS: shared pages such as torch's libraries counted
once, not once per process as a sum of RSS does).
The load generator shares the machine: its own CPU is printed too. Everything listens
on 127.0.0.1 and every server is stopped (its process group) before the next level.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets
from playwright.sync_api import sync_playwright

from bench.appserver import (REAL_DATA, SHIPPED_WEIGHTS, AppSetup, serve,  # noqa: E402
                             snapshot_shipped_weights)
from bench.browser import CHROMIUM_ARGS, chromium_path, clear_canvas, new_tab, timed_stroke
from bench.procs import descendants  # noqa: E402
from bench.procs import with_command
from bench.proxy import route_cookie, sticky_proxy
from bench.protocol import Session  # noqa: E402
from bench.strokes import canvas_value  # noqa: E402
from core.runs.database import RunDatabase
from ui.classify.view import BUSY, TOO_BUSY

PAGES = ["Inside the model", "Train", "Compare runs", "Evaluate", "Mistakes", "Dataset explorer",
         "Classify"]
TRAIN_MODEL, TRAIN_EPOCHS = "ffnn-small", 1


@dataclass
class Level:
    visitors: int
    servers: int
    seconds: float
    train_epochs: int = TRAIN_EPOCHS  # the trainers' runs
    proxy: bool = False  # through a sticky nginx (bench/proxy.py)
    strokes_per_server: list[int] = field(default_factory=list)  # the spread over processes
    strokes: list[float] = field(default_factory=list)  # send -> Prediction, s
    server_strokes: list[float] = field(default_factory=list)  # the fragment's script, s
    browser_strokes: list[float] = field(default_factory=list)  # mouse-up -> shown, s
    browser_timeouts: int = 0
    pages: list[float] = field(default_factory=list)
    wrong_digits: int = 0
    errors: list[str] = field(default_factory=list)
    dropped: int = 0
    runs: dict[str, int] = field(default_factory=dict)
    runs_lost: int = 0
    refused: int = 0
    cpu_cores: float = 0.0  # the servers' processes, mean over the level
    web_cores: float = 0.0  # of which the web processes (`streamlit run`) themselves
    cpu_cores_peak: float = 0.0  # the highest 1 s mean
    rss_mb_peak: float = 0.0  # the sum of the processes' RSS (shared pages counted in each)
    pss_mb_peak: float = 0.0  # the tree's proportional set: what it holds, shared pages once
    process_rss_mb: dict[str, float] = field(default_factory=dict)  # kind -> its peak RSS
    stroke_bytes: list[int] = field(default_factory=list)  # what a stroke's answer weighs
    script_seconds: dict[str, tuple[int, float]] = field(default_factory=dict)  # kind -> runs, s
    busy: int = 0  # strokes told "busy, retrying" before their answer
    too_busy: int = 0  # strokes given up as too busy
    browser_settled: list[float] = field(default_factory=list)  # mouse-up -> whole answer, s
    generator_cores: float = 0.0
    wall_seconds: float = 0.0  # the visitors' phase: `seconds`, plus the replies still due
    load_average: list[float] = field(default_factory=list)


# ------------------------------------------------------------------ the visitors

async def drawer(url: str, level: Level, until: float, seed: int,
                 cookie: str | None = None) -> None:
    rng = np.random.default_rng(seed)
    s = Session(url, cookie)
    try:
        reply = await s.open()
        canvas = s.widget("bidi_component", "canvas")
        fragment = next(iter(reply.fragments))  # Classify's panel: a stroke reruns it alone
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(1.5, 2.5))
            digit = int(rng.integers(10))
            s.set_json(canvas, canvas_value(digit, rng))
            reply = await s.rerun(fragment_id=s.fragment_of.get(canvas, fragment))
            _note(level, reply)
            level.busy += any(t.startswith(BUSY) for t in reply.texts)
            if any(t.startswith(TOO_BUSY) for t in reply.texts):
                level.too_busy += 1
            elif "Prediction" in reply.first_metric:
                level.stroke_bytes.append(reply.received_bytes)
                level.strokes.append(reply.first_metric["Prediction"])
                level.wrong_digits += reply.metrics["Prediction"] != str(digit)
            else:
                level.errors.append("a stroke without a prediction: " + " | ".join(reply.texts)[:200])
    except Exception as err:  # noqa: BLE001 - every failure is a finding, counted
        _failed(level, err)
    finally:
        await s.close()


async def switcher(url: str, level: Level, until: float, seed: int,
                   cookie: str | None = None) -> None:
    rng = np.random.default_rng(seed)
    s = Session(url, cookie)
    try:
        await s.open()
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(3, 6))
            reply = await s.goto(PAGES[int(rng.integers(len(PAGES)))])
            _note(level, reply)
            level.pages.append(reply.seconds)
    except Exception as err:  # noqa: BLE001
        _failed(level, err)
    finally:
        await s.close()


async def trainer(url: str, level: Level, until: float, seed: int,
                  cookie: str | None = None) -> None:
    s = Session(url, cookie)
    try:
        await s.open()
        await s.goto("Train")
        model = s.widget("selectbox", "Architecture")
        s.set_string(model, next(o for o in s.options[model] if o.startswith(TRAIN_MODEL + " ")))
        s.set_int(s.widget("number_input", "Epochs"), level.train_epochs)
        s.set_int(s.widget("number_input", "Seed"), seed)
        await s.rerun()  # the form shows the new architecture, as after the browser's change
        reply = await s.rerun(trigger=s.widget("button", "Start training"))
        _note(level, reply)
        if any(t.startswith("**Not started.**") for t in reply.texts):  # ui/train/form.py's refusal
            level.refused += 1
            return
        live = set(reply.fragments)
        while time.monotonic() < until and live:
            await asyncio.sleep(1.0)
            reply = await s.rerun(fragment_id=next(iter(live)))
            _note(level, reply)
            live = reply.fragments or live
            if any(("Finished" in t or "Failed" in t) for t in reply.texts):
                break
    except Exception as err:  # noqa: BLE001
        _failed(level, err)
    finally:
        await s.close()


def _note(level: Level, reply) -> None:
    level.errors.extend(reply.exceptions)


def _failed(level: Level, err: Exception) -> None:
    if isinstance(err, websockets.ConnectionClosed):
        level.dropped += 1
    level.errors.append(f"{type(err).__name__}: {err}"[:200])


async def visitors(urls: list[str], level: Level, seed: int, proxied: bool = False) -> None:
    """The level's visitors, spread over `urls` in turn; `proxied` (one URL, a sticky
    proxy's): each visitor first fetches the page for its route cookie, as a browser
    does, and the proxy chooses its app process by it."""
    n = level.visitors
    trainers = max(1, round(0.1 * n))
    switchers = round(0.2 * n)
    kinds = [trainer] * trainers + [switcher] * switchers + [drawer] * (n - trainers - switchers)
    until = time.monotonic() + level.seconds
    tasks = []
    for i, kind in enumerate(kinds):
        url = urls[i % len(urls)]
        cookie = await asyncio.to_thread(route_cookie, url) if proxied else None
        tasks.append(asyncio.create_task(kind(url, level, until, seed + i, cookie)))
        await asyncio.sleep(2.0 / n)  # arrivals spread over 2 s, not one burst
    await asyncio.gather(*tasks)


# ------------------------------------------------------------------ the browsers

def browser_strokes(url: str, level: Level, until: float, count: int) -> None:
    """`count` Chromium tabs, each drawing a stroke on a cleared canvas every few seconds."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            tabs = [new_tab(browser)[1] for _ in range(count)]
            for tab in tabs:
                tab.set_default_timeout(60_000)
                tab.goto(url)
            while time.monotonic() < until:
                for tab in tabs:
                    try:
                        clear_canvas(tab)
                        timed = timed_stroke(tab)
                        level.browser_strokes.append(timed["stroke_to_prediction_ms"] / 1000)
                        level.browser_settled.append(timed["stroke_to_answer_settled_ms"] / 1000)
                    except AssertionError as err:  # no prediction on screen in time: counted
                        level.browser_timeouts += 1
                        level.errors.append(f"browser: {str(err).splitlines()[0]}"[:200])
                time.sleep(1.0)
        except Exception as err:  # noqa: BLE001
            level.errors.append(f"browser: {type(err).__name__}: {err}"[:200])
        finally:
            browser.close()


# ------------------------------------------------------------------ the server's side

def _process_kind(pid: int, web: set[int]) -> str:
    """web (the `streamlit run` process), scheduler, forkserver, worker (a run's process,
    forked by the forkserver) or other (multiprocessing's resource tracker)."""
    if pid in web:
        return "web"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        stat = Path(f"/proc/{pid}/stat").read_text()
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        parent_cmd = Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, ValueError):
        return "other"
    if b"core.runs.scheduler" in cmd:
        return "scheduler"
    if b"forkserver" in cmd:
        return "worker" if b"forkserver" in parent_cmd else "forkserver"
    return "other"


def _memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, *rest = line.split()
        if key == "Rss:":
            rss = int(rest[0]) / 1024
        elif key == "Pss:":
            pss = int(rest[0]) / 1024
    return rss, pss


class Usage(threading.Thread):
    """CPU seconds and memory of every process below the given ones, once a second."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots, self.done = roots, threading.Event()
        self.cpu: list[tuple[float, float, float]] = []  # (monotonic time, CPU s so far, web's)
        self.rss_mb_peak = 0.0
        self.pss_mb_peak = 0.0
        self.kind_rss_mb: dict[str, float] = {}  # process kind -> the largest RSS seen
        self.seen: dict[int, float] = {}  # pid -> its last CPU seconds (ended ones stay counted)

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        web = set(self.roots)
        while not self.done.wait(1.0):
            pids = set(self.roots) | {p for root in self.roots for p, _ in descendants(root)}
            rss = pss = 0.0
            for pid in pids:
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    fields = stat[stat.rindex(")") + 2:].split()
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
                    one_rss, one_pss = _memory_mb(pid)
                except (OSError, ValueError, IndexError):
                    continue
                rss, pss = rss + one_rss, pss + one_pss
                kind = _process_kind(pid, web)
                self.kind_rss_mb[kind] = max(self.kind_rss_mb.get(kind, 0.0), one_rss)
            self.cpu.append((time.monotonic(), sum(self.seen.values()),
                             sum(self.seen.get(p, 0.0) for p in self.roots)))
            self.rss_mb_peak = max(self.rss_mb_peak, rss)
            self.pss_mb_peak = max(self.pss_mb_peak, pss)

    def cores(self) -> tuple[float, float, float]:
        """(mean, highest 1 s) cores used by all, and the mean of the web processes."""
        if len(self.cpu) < 2:
            return 0.0, 0.0, 0.0
        (t0, c0, w0), (t1, c1, w1) = self.cpu[0], self.cpu[-1]
        steps = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(self.cpu, self.cpu[1:])]
        return (c1 - c0) / (t1 - t0), max(steps), (w1 - w0) / (t1 - t0)


def server_pids(url: str) -> list[int]:
    return with_command(f"--server.port {url.rsplit(':', 1)[1]}")


def server_stroke_seconds(timings: Path, since: float) -> list[float]:
    """The Classify fragment's script runs (a stroke each) that started after `since`."""
    out = []
    for line in timings.read_text().splitlines() if timings.is_file() else []:
        rec = json.loads(line)
        if rec.get("run") == "classify" and rec["start"] >= since:
            out.append(rec["total_ms"] / 1000)
    return out


def script_time_by_kind(timings: Path, since: float) -> dict[str, tuple[int, float]]:
    """Script runs that started after `since`, by kind (a full run of a page, or a
    fragment's rerun by its name): (how many, their seconds in all). What the web
    process's time went to, as its own timings say."""
    out: dict[str, tuple[int, float]] = {}
    for line in timings.read_text().splitlines() if timings.is_file() else []:
        rec = json.loads(line)
        if rec["start"] < since:
            continue
        kind = f"page {rec.get('page')}" if rec.get("run") == "app" else rec.get("run", "?")
        n, total = out.get(kind, (0, 0.0))
        out[kind] = (n + 1, total + rec["total_ms"] / 1000)
    return out


def run_outcomes(runs: Path, level: Level) -> None:
    store = RunDatabase(runs)
    for record in store.list():
        state = record.state.value if hasattr(record.state, "value") else str(record.state)
        level.runs[state] = level.runs.get(state, 0) + 1
        folder = runs / record.id
        if state == "finished" and not (folder / "best.pt").is_file():
            level.runs_lost += 1
        if state == "failed":
            level.runs_lost += 1


ENDED = ("finished", "failed", "cancelled", "diverged")  # stored states (cancelled: stopped)


def stop_runs(runs: Path) -> None:
    """Ask every run still queued or training to stop, as the Stop button does."""
    store = RunDatabase(runs)
    for record in store.list():
        if str(getattr(record.state, "value", record.state)) not in ENDED:
            store.request_stop(record.id)


def wait_runs_ended(runs: Path, timeout: float) -> None:
    store = RunDatabase(runs)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [str(getattr(r.state, "value", r.state)) for r in store.list()]
        if all(s in ENDED for s in states):
            return
        time.sleep(1.0)


def run_level(n: int, servers: int, seconds: float, browsers: int, base: Path, seed: int,
              app_root: Path = ROOT, train_epochs: int = TRAIN_EPOCHS,
              proxy: bool = False) -> Level:
    level = Level(visitors=n, servers=servers, seconds=seconds, train_epochs=train_epochs,
                  proxy=proxy)
    runs = base / f"runs-{n}-{servers}"
    runs.mkdir()
    setup = AppSetup(data_root=REAL_DATA, real_data=True, weights=base / "weights",
                     shipped_weights=True, runs=runs)
    out = base / "logs"
    out.mkdir(exist_ok=True)
    with ExitStack() as stack:
        apps = [stack.enter_context(serve(setup, out, name=f"server-{n}-{i}", app_root=app_root))
                for i in range(servers)]
        urls = [a.url for a in apps]
        for url in urls:  # each server's first script run imports torch and the model: not load
            asyncio.run(_warm(url))
        pids = [p for url in urls for p in server_pids(url)]
        if proxy:  # visitors and browsers through nginx, which picks their app process
            entry, nginx = stack.enter_context(sticky_proxy(urls, base / f"nginx-{n}"))
            pids.append(nginx)
        doors = [entry] if proxy else urls
        usage = Usage(pids)
        usage.start()
        since, cpu0 = time.time(), time.process_time()
        until = time.monotonic() + seconds
        threads = []
        if browsers:
            threads.append(threading.Thread(target=browser_strokes,
                                            args=(doors[0], level, until, browsers)))
            threads[-1].start()
        asyncio.run(visitors(doors, level, seed, proxied=proxy))
        level.wall_seconds = time.time() - since
        usage.done.set()  # the visitors' time only, not the browsers' last stroke
        level.generator_cores = (time.process_time() - cpu0) / level.wall_seconds
        level.load_average = list(os.getloadavg())
        for t in threads:
            t.join()
        usage.join()
        level.cpu_cores, level.cpu_cores_peak, level.web_cores = usage.cores()
        level.rss_mb_peak = usage.rss_mb_peak
        level.pss_mb_peak = usage.pss_mb_peak
        level.process_rss_mb = {k: round(v) for k, v in sorted(usage.kind_rss_mb.items())}
        for app in apps:
            answered = server_stroke_seconds(app.timings, since)
            level.server_strokes += answered
            level.strokes_per_server.append(len(answered))
            for kind, (n, total) in script_time_by_kind(app.timings, since).items():
                had = level.script_seconds.get(kind, (0, 0.0))
                level.script_seconds[kind] = (had[0] + n, round(had[1] + total, 2))
        if train_epochs > TRAIN_EPOCHS:  # runs meant to last the level, not to finish
            stop_runs(runs)
        wait_runs_ended(runs, timeout=120)
    run_outcomes(runs, level)
    return level


async def _warm(url: str) -> None:
    s = Session(url)
    try:
        await s.open()
    finally:
        await s.close()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q)) * 1000


def summary(level: Level) -> dict:
    return {"visitors": level.visitors, "servers": level.servers, "proxy": level.proxy,
            "strokes_per_server": level.strokes_per_server,
            "train_epochs": level.train_epochs,
            "strokes": len(level.strokes),
            "stroke_p50_ms": _pct(level.strokes, 50), "stroke_p95_ms": _pct(level.strokes, 95),
            "server_p50_ms": _pct(level.server_strokes, 50), "server_p95_ms": _pct(level.server_strokes, 95),
            "browser_strokes": len(level.browser_strokes),
            "browser_p50_ms": _pct(level.browser_strokes, 50),
            "browser_p95_ms": _pct(level.browser_strokes, 95),
            "browser_settled_p50_ms": _pct(level.browser_settled, 50),
            "browser_settled_p95_ms": _pct(level.browser_settled, 95),
            "browser_timeouts": level.browser_timeouts,
            # every browser stroke, in order: a p95 over a few dozen is nearly their maximum
            "browser_strokes_ms": [round(v * 1000, 1) for v in level.browser_strokes],
            "busy": level.busy, "too_busy": level.too_busy,
            "stroke_kb": round(float(np.median(level.stroke_bytes)) / 1024, 1)
            if level.stroke_bytes else None,
            "page_p50_ms": _pct(level.pages, 50), "page_p95_ms": _pct(level.pages, 95),
            "wrong_digits": level.wrong_digits, "errors": len(level.errors), "dropped": level.dropped,
            "runs": level.runs, "refused": level.refused, "runs_lost": level.runs_lost,
            "server_cpu_cores": round(level.cpu_cores, 2), "web_cpu_cores": round(level.web_cores, 2),
            "server_cpu_cores_peak": round(level.cpu_cores_peak, 2),
            "server_rss_mb_peak": round(level.rss_mb_peak),
            "server_pss_mb_peak": round(level.pss_mb_peak),
            "process_rss_mb": level.process_rss_mb, "generator_cpu_cores": round(level.generator_cores, 2),
            "wall_seconds": round(level.wall_seconds, 1),
            "script_runs": dict(sorted(level.script_seconds.items(), key=lambda kv: -kv[1][1])),
            "load_average": [round(x, 2) for x in level.load_average]}


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--visitors", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    p.add_argument("--seconds", type=float, default=45.0, help="each level's visitors stay this long")
    p.add_argument("--servers", type=int, default=1, help="app processes sharing one runs folder")
    p.add_argument("--browsers", type=int, default=0, help="real Chromium tabs drawing, besides")
    p.add_argument("--proxy", action="store_true",
                   help="visitors reach the servers through a sticky nginx (bench/proxy.py), "
                        "as a deployment would")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--app-root", type=Path, default=ROOT,
                   help="the checkout whose app is served (default: this one)")
    p.add_argument("--train-epochs", type=int, default=TRAIN_EPOCHS,
                   help="epochs of the trainers' runs; over 1, they train through the level "
                        "and are stopped at its end")
    p.add_argument("--json", type=Path, help="also write the results there")
    a = p.parse_args(argv)
    if not (REAL_DATA / "MNIST" / "raw").is_dir() or not (SHIPPED_WEIGHTS / "manifest.json").is_file():
        sys.exit(f"needs the real data (MNIST_STUDIO_DATA, now {REAL_DATA}) and weights/")
    os.environ.setdefault("MNIST_STUDIO_MAX_QUEUE", "100")  # refusals are not what is measured
    app_root = a.app_root.resolve()
    print(f"app: {app_root} ({_commit(app_root)}); CPU: {_cpu()}; load {os.getloadavg()}",
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="serverload-") as tmp:
        base = Path(tmp)
        snapshot_shipped_weights(base / "weights")
        for n in a.visitors:
            load_before = [round(x, 2) for x in os.getloadavg()]
            level = run_level(n, a.servers, a.seconds, a.browsers, base, a.seed, app_root,
                              a.train_epochs, a.proxy)
            row = {"app": str(app_root), "commit": _commit(app_root), **summary(level),
                   "load_before": load_before}
            rows.append(row)
            print(f"{n:3d} visitors, {a.servers} server(s){' behind nginx' * a.proxy}: stroke p50/p95 {_fmt(row['stroke_p50_ms'])}/"
                  f"{_fmt(row['stroke_p95_ms'])} ms (server {_fmt(row['server_p50_ms'])}/"
                  f"{_fmt(row['server_p95_ms'])}) over {row['strokes']} strokes "
                  f"({row['stroke_kb']} KB each), busy {row['busy']}, "
                  f"too busy {row['too_busy']}; browser {_fmt(row['browser_p50_ms'])}/"
                  f"{_fmt(row['browser_p95_ms'])} ms, whole answer {_fmt(row['browser_settled_p50_ms'])}/"
                  f"{_fmt(row['browser_settled_p95_ms'])} ms over {row['browser_strokes']}; pages "
                  f"{_fmt(row['page_p50_ms'])}/{_fmt(row['page_p95_ms'])} ms; errors {row['errors']}, "
                  f"dropped {row['dropped']}; runs {row['runs']} refused {row['refused']} lost "
                  f"{row['runs_lost']}; server CPU {row['server_cpu_cores']} cores (web "
                  f"{row['web_cpu_cores']}, peak {row['server_cpu_cores_peak']}); memory: RSS per "
                  f"process {row['process_rss_mb']} MB, tree PSS {row['server_pss_mb_peak']} MB "
                  f"(RSS sum {row['server_rss_mb_peak']}); generator {row['generator_cpu_cores']} "
                  f"cores; {row['wall_seconds']} s; load {load_before} -> {row['load_average']}",
                  flush=True)
            print("    script runs (count, seconds):", row["script_runs"],
                  "; strokes per server:", row["strokes_per_server"], flush=True)
            for e in level.errors[:5]:
                print("   ", e)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


def _commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _cpu() -> str:
    """The CPU's model name and core count, as lscpu gives them."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{info.get('Model name', '?').strip()}, {info.get('CPU(s)', '?').strip()} CPUs"


if __name__ == "__main__":
    sys.exit(main())
