"""Rewrite docs/screenshots/<page>.png: the real app, driven in headless Chromium.

    python -m scripts.screenshots [--out DIR] [--data-dir DIR] [--timeout S]

Starts `streamlit run streamlit_app.py` on a free port of 127.0.0.1 (headless, no file
watcher), the way the browser test does (tests/e2e/conftest.py: its server, data and
browser helpers, and tests/e2e/test_browser.py's page helpers, are reused here), with
a snapshot of the shipped weights, the real datasets and an empty, temporary runs
folder. Then, in one browser tab:

  Train      trains a 3-epoch ffnn-small, then a 5-epoch ffnn, pictured while it streams
  Classify   a 7 drawn on the canvas (then kept as a 7: "It's a 7")
  Inside     the same 7, layer by layer, and the embedding map
  Your handwriting   that 7 in the visitor's set, and the fine-tune's settings
  Evaluate, Mistakes, Dataset explorer   the sidebar's default model (the shipped resnet)
  Compare    the two runs trained above

and writes one PNG per page (the whole page, cut at 1,800 px). Nothing is downloaded:
the data must be there already (`python -m core.data download`), and the browser is
Debian's chromium (`$CHROMIUM`, default /usr/bin/chromium) with playwright from
requirements-dev.txt. The server is stopped (its process group, by id) at the end,
whatever happens; the whole run is bounded by --timeout. Logs and the evaluation
cache go to test-output/ (gitignored). Exit status: 0 when every page was written,
1 when something failed (the message says where), 2 when the browser or data is missing.
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.appserver import OUTPUT, SHIPPED_WEIGHTS, AppSetup, serve, snapshot_shipped_weights
from bench.browser import (CHART_POINTS, DRAWING_CANVAS, CHROMIUM_ARGS, DOCS_MAX_HEIGHT, DOCS_NAMES,
                           DOCS_SCREENSHOTS, FIRST_LOAD_MS, PAGE_MS, PAGES, assert_no_errors,
                           browser_missing, chromium_path, expect, fill_number, go_to, main,
                           new_tab, open_app, pick, prediction_metric, screenshot, settle)
from bench.procs import wait_gone, with_command
from core.data import DATASETS, data_root

DEFAULT_TIMEOUT_S = 900
RUNS = (("ffnn-small", 3), ("ffnn", 5))  # (architecture, epochs): the second is pictured live
TRAIN_MS = 300_000  # a run from Start to Finished on a busy 2-core machine


class OutOfTime(Exception):
    pass


def _out_of_time(signum, frame):
    raise OutOfTime("the screenshots took longer than --timeout")


def _data_present(root: Path) -> list[str]:
    """The datasets missing under root (their test labels file is the last one written)."""
    return [name for name, spec in DATASETS.items()
            if not (root / spec.folder / "raw" / "t10k-labels-idx1-ubyte").is_file()]


def _shot(page, out: Path, title: str) -> Path:
    assert_no_errors(page, title)
    path = out / f"{DOCS_NAMES[title]}.png"
    screenshot(page, path, DOCS_MAX_HEIGHT)
    print(f"  {path}", flush=True)
    return path


def _start_run(page, url: str, arch: str, epochs: int) -> None:
    go_to(page, url, "Train")
    pick(page, "Architecture", arch)
    fill_number(page, "Epochs", epochs)
    pick(page, "Batch size", "128")
    main(page).get_by_role("button", name="Start training").click()
    expect(main(page).get_by_role("button", name="Stop")).to_be_visible(timeout=60_000)


def _wait_finished(page) -> None:
    """The run shown on Train (the one just started) says Finished."""
    expect(main(page).get_by_text("Finished", exact=True).first).to_be_visible(timeout=TRAIN_MS)
    settle(page)


def _draw_seven(page) -> None:
    """One stroke: across the top of the canvas, then down to the lower left."""
    canvas = main(page).locator(DRAWING_CANVAS).first
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    page.mouse.move(*at(0.28, 0.22))
    page.mouse.down()
    page.mouse.move(*at(0.72, 0.22), steps=15)
    page.mouse.move(*at(0.42, 0.82), steps=25)
    page.mouse.up()


def take(page, url: str, out: Path) -> list[Path]:
    written = []
    open_app(page, url)

    # Train: one run to compare with, then one pictured while it streams.
    print("Train: training the runs for Train and Compare runs", flush=True)
    _start_run(page, url, *RUNS[0])
    _wait_finished(page)
    _start_run(page, url, *RUNS[1])
    page.wait_for_function(f"() => ({CHART_POINTS})() >= 60", timeout=TRAIN_MS, polling=250)
    try:  # an accuracy point on the epoch chart too, while the run still trains
        expect(main(page).locator('[data-testid="stProgress"]')).to_have_text(
            re.compile(rf"Epoch [2-9]/{RUNS[1][1]}\b"), timeout=TRAIN_MS)
    except AssertionError:
        pass  # finished already (a fast machine): the picture shows the finished run
    written.append(_shot(page, out, "Train"))
    _wait_finished(page)

    # Classify: a 7 drawn on the canvas.
    go_to(page, url, "Classify")
    draw = main(page).get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw.is_checked():
        draw.check()
        settle(page)
    _draw_seven(page)
    expect(prediction_metric(page)).to_be_visible(timeout=FIRST_LOAD_MS)
    settle(page)
    predicted = prediction_metric(page).inner_text().strip()
    if predicted != "7":
        print(f"  note: the drawn 7 was read as {predicted!r}", flush=True)
    written.append(_shot(page, out, "Classify"))
    confirm = main(page).locator(".st-key-teach_confirm").get_by_role("button")
    if confirm.count() and confirm.is_enabled():  # Your handwriting then shows one drawing
        confirm.click()
        settle(page)

    # Inside the model: the drawn digit (the last input on Classify), and the embedding map.
    go_to(page, url, "Inside the model")
    expect(main(page).get_by_text("Embedding map")).to_be_visible(timeout=PAGE_MS)
    expect(main(page).locator('[data-testid="stPlotlyChart"]').last).to_be_visible(timeout=PAGE_MS)
    settle(page)
    written.append(_shot(page, out, "Inside the model"))

    go_to(page, url, "Your handwriting")
    expect(main(page).get_by_text("Fine-tune on it")).to_be_visible()
    written.append(_shot(page, out, "Your handwriting"))

    go_to(page, url, "Evaluate")
    expect(main(page).get_by_text("Compare two models")).to_be_visible()
    written.append(_shot(page, out, "Evaluate"))

    go_to(page, url, "Mistakes")
    expect(main(page).locator('[data-testid="stImage"]').first).to_be_visible()
    written.append(_shot(page, out, "Mistakes"))

    go_to(page, url, "Dataset explorer")
    expect(main(page).locator('[data-testid="stImage"]').first).to_be_visible()
    written.append(_shot(page, out, "Dataset explorer"))

    go_to(page, url, "Compare runs")
    expect(main(page).get_by_text("Settings", exact=True)).to_be_visible()
    expect(main(page).locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
    settle(page)
    written.append(_shot(page, out, "Compare runs"))
    return written


def main_(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.screenshots",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DOCS_SCREENSHOTS,
                   help="where the PNGs go (default docs/screenshots)")
    p.add_argument("--data-dir", help="the datasets (default: $MNIST_STUDIO_DATA, else the "
                                      "app's own default, as core.data finds them)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help=f"give up after this many seconds (default {DEFAULT_TIMEOUT_S})")
    args = p.parse_args(argv)

    missing = browser_missing()
    if missing:
        print(f"cannot take screenshots: {missing}", file=sys.stderr)
        return 2
    root = data_root(args.data_dir)
    absent = _data_present(root)
    if absent:
        print(f"cannot take screenshots: no {', '.join(absent)} under {root}; "
              f"python -m core.data download --data-dir {root}", file=sys.stderr)
        return 2
    if not (SHIPPED_WEIGHTS / "manifest.json").is_file():
        print(f"cannot take screenshots: no {SHIPPED_WEIGHTS / 'manifest.json'}", file=sys.stderr)
        return 2


    args.out.mkdir(parents=True, exist_ok=True)
    logs = OUTPUT / "screenshots-run"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(max(1, int(args.timeout)))
    work = Path(tempfile.mkdtemp(prefix="mnist-studio-screenshots-"))
    try:
        weights, runs = work / "weights", work / "runs"
        snapshot_shipped_weights(weights)
        runs.mkdir()
        setup = AppSetup(data_root=root, real_data=True, weights=weights, shipped_weights=True,
                         runs=runs)
        with serve(setup, logs, "server") as app, sync_playwright() as pw:
            print(f"app at {app.url} (logs in {logs})", flush=True)
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                context, page = new_tab(browser)
                page.set_default_timeout(30_000)
                written = take(page, app.url, args.out)
                context.close()
            finally:
                browser.close()
    except BaseException as err:  # pytest.fail (from serve) is a BaseException
        if isinstance(err, KeyboardInterrupt):
            raise
        print(f"screenshots failed after {time.monotonic() - started:.0f} s: "
              f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        # The scheduler and its workers (in the server's process group) see the end too.
        left = wait_gone(lambda: with_command(str(work)), timeout=15)
        if left:
            print(f"note: processes still using {work}: {left}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    assert sorted(DOCS_NAMES[t] for t in PAGES) == sorted(p.stem for p in written)
    print(f"{len(written)} screenshots in {args.out}, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
