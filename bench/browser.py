"""Driving the real app in headless Chromium (Playwright): tabs with an in-page clock,
waiting for a script run to settle, drawing a stroke, timing it to the prediction on
screen (split into the browser's, the network's and the server's shares), screenshots.

Used by the browser tests (tests/e2e), bench.serverload, bench.app_latency and
scripts.screenshots.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import time
from pathlib import Path

from bench.appserver import OUTPUT, ROOT, serve
from ui.common import timings as server_timings

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip (or fail in CI) before anything here runs
    expect = None

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
UPDATE_DOCS = os.environ.get("MNIST_STUDIO_UPDATE_SCREENSHOTS") == "1"
# The app's pages, in the sidebar's order (streamlit_app.py).
PAGES = ["Classify", "Inside the model", "Your handwriting", "Train", "Compare runs", "Evaluate",
         "Mistakes", "Dataset explorer"]
SCREENSHOTS = OUTPUT / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"


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


DOCS_NAMES = {"Classify": "classify", "Inside the model": "inside",
              "Your handwriting": "handwriting", "Train": "train",
              "Compare runs": "compare", "Evaluate": "evaluate",
              "Mistakes": "mistakes", "Dataset explorer": "explore"}
EXPECT_MS = 30_000  # default wait of each expect(): reruns are slow on a busy 2-core machine
FIRST_LOAD_MS = 180_000  # the first script run imports torch and loads data: slow on a busy CPU
PAGE_MS = 120_000  # Evaluate/Mistakes evaluate the models once (then a disk cache)
DOCS_MAX_HEIGHT = 1800  # README screenshots: the full page, cut at this height
DOCS_TRAIN_POINTS = 60  # steps on the loss chart before the README's Train screenshot
if expect is not None:
    expect.set_options(timeout=EXPECT_MS)

# The canvas that takes strokes: this app's (ui/classify/canvas_component.js), or
# streamlit-drawable-canvas's upper canvas (the app before it, for side-by-side benchmarks).
DRAWING_CANVAS = "canvas.drawing-canvas, canvas.upper-canvas"

# Error boxes: an uncaught exception (Streamlit's), or the app's own friendly error.
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
QUIET_MS = 600
# True once nothing shows a run in progress and the DOM has not changed for `quiet` ms.
SETTLED = """quiet => {
  const w = window;
  if (!w.__e2eQuiet) {
    w.__e2eQuiet = {last: performance.now()};
    new MutationObserver(() => { w.__e2eQuiet.last = performance.now(); })
      .observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  }
  const busy = document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSpinner"], '
      + '[data-testid="stSkeleton"], [data-stale="true"]');
  return !busy && performance.now() - w.__e2eQuiet.last > quiet;
}"""

# Points in the biggest trace of the plotly charts on the page (the loss chart's steps).
CHART_POINTS = """() => {
  let best = 0;
  for (const d of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    for (const t of (d.data || [])) best = Math.max(best, (t.x || []).length);
  return best;
}"""

# In-page clock for stroke -> prediction: the pointer's release, then the first DOM
# mutation after which a "Prediction" metric is in the page (epoch ms, as the server's
# timings and conftest.BROWSER_CLOCK); and the last mutation of the page since (`last`):
# once the page has been quiet a while, when the whole answer was on screen (figures,
# explanation), whatever elements the app draws it with.
STROKE_TIMER = """() => {
  const now = () => performance.timeOrigin + performance.now();
  const t = window.__e2eStroke = {up: null, shown: null, last: null};
  const released = () => { if (t.up === null) t.up = now(); };
  window.addEventListener('pointerup', released, {capture: true, once: true});
  window.addEventListener('mouseup', released, {capture: true, once: true});
  const hasPrediction = () => [...document.querySelectorAll('[data-testid="stMetric"]')]
      .some(m => /^\\s*Prediction/.test(m.innerText));
  const obs = window.__e2eStrokeObserver = new MutationObserver(() => {
    if (t.up === null) return;
    if (t.shown === null && hasPrediction()) t.shown = now();
    if (t.shown !== null) t.last = now();
  });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true,
                              attributes: true});
}"""
# True once the page has not changed for `quiet` ms after the prediction was shown.
ANSWER_SETTLED = """quiet => {
  const t = window.__e2eStroke;
  const now = performance.timeOrigin + performance.now();
  if (!t || t.shown === null || now - t.last < quiet) return false;
  window.__e2eStrokeObserver.disconnect();
  return true;
}"""
ANSWER_QUIET_MS = 400


# In-page clock for a cold start: the first animation frame in which Classify's heading
# and the drawing canvas are in the page (epoch ms; the canvas once fabric has sized it,
# inside the component's shadow root). Playwright's expect() polls at growing intervals
# (up to a second apart), too coarse to time them.
FIRST_SEEN = """(() => {
  const seen = window.__e2eSeen = {};
  const now = () => performance.timeOrigin + performance.now();
  const main = () => document.querySelector('[data-testid="stMain"]');
  const found = {
    heading: () => [...(main()?.querySelectorAll('h1') || [])]
        .some(h => /Classify\\s*$/.test(h.textContent)),
    canvas: () => [...(main()?.querySelectorAll('[data-testid="stBidiComponentIsolated"]') || [])]
        .some(host => (host.shadowRoot?.querySelector('CANVAS')?.width || 0) > 0),
  };
  const look = () => {
    for (const [name, test] of Object.entries(found))
      if (!(name in seen) && test()) seen[name] = now();
    if (!('heading' in seen && 'canvas' in seen)) requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();""".replace("CANVAS", DRAWING_CANVAS)


# -------------------------------------------------------------------- helpers

def main(page):
    return page.locator('[data-testid="stMain"]')


def settle(page, timeout: float = PAGE_MS) -> None:
    """Wait for the script run to end: no spinner, skeleton or stale element left, and
    the page unchanged for QUIET_MS. (The config's toolbarMode "minimal" hides
    Streamlit's own "Running..." status widget, so it cannot be waited on alone.)"""
    page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=timeout, polling=100)


def assert_no_errors(page, where: str) -> None:
    errors = page.locator(ERRORS)
    if errors.count():
        raise AssertionError(f"{where}: error box in the page: {errors.all_inner_texts()}")


def content_height(page) -> int:
    """The page's full height. Streamlit scrolls inside its main container, not the
    document, so a plain full_page screenshot would stop at the viewport's bottom."""
    return page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
            .map(e => e.scrollHeight))""")


def screenshot(page, path: Path, max_height: int | None = None) -> None:
    """The whole page (up to max_height): the viewport grows to the content for the shot."""
    page.mouse.move(2, 2)  # no hover effects (the canvas toolbar, tooltips) in the picture
    viewport = dict(page.viewport_size)
    height = max(viewport["height"], content_height(page))
    if max_height:
        height = min(height, max_height)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if height != viewport["height"]:
            page.set_viewport_size({"width": viewport["width"], "height": height})
            page.wait_for_timeout(400)  # charts re-layout to the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def shot(page, name: str) -> None:
    index = len(list(SCREENSHOTS.glob("[0-9]*.png"))) + 1
    screenshot(page, SCREENSHOTS / f"{index:02d}-{name}.png")


def docs_shot(page, page_title: str) -> None:
    """README screenshot of a page, with MNIST_STUDIO_UPDATE_SCREENSHOTS=1."""
    if not UPDATE_DOCS:
        return
    path = DOCS_SCREENSHOTS / f"{DOCS_NAMES[page_title]}.png"
    screenshot(page, path, DOCS_MAX_HEIGHT)


def open_app(page, url: str) -> None:
    if not page.url.startswith(url):
        page.goto(url + "/")
        # Until the script's first run, the sidebar lists pages/ the old way (file names);
        # the default page's heading means st.navigation has run.
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)


def nav_titles(page) -> list[str]:
    """The sidebar's page names (a link's text is its icon's name, then the title)."""
    texts = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return [t.strip().split("\n")[-1].strip() for t in texts]


def nav_link(page, title: str):
    return page.locator('[data-testid="stSidebarNav"] a').nth(nav_titles(page).index(title))


def go_to(page, url: str, title: str, timeout: float = PAGE_MS) -> None:
    """Click the page's sidebar link and wait for its heading and the end of the run."""
    open_app(page, url)
    nav_link(page, title).click()
    heading = main(page).locator("h1").filter(has_text=re.compile(rf"{re.escape(title)}\s*$"))
    expect(heading).to_be_visible(timeout=timeout)
    settle(page, timeout)
    assert_no_errors(page, title)


def prediction_metric(page):
    return main(page).locator('[data-testid="stMetric"]').filter(
        has_text=re.compile(r"^\s*Prediction")).locator('[data-testid="stMetricValue"]')


def draw_vertical_stroke(page) -> None:
    """Press, drag down the middle of the drawing canvas (15% -> 85% of its height), release."""
    canvas = main(page).locator(DRAWING_CANVAS).first
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, f"canvas box: {box}"
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 0.15 * box["height"])
    page.mouse.down()
    page.mouse.move(x, box["y"] + 0.85 * box["height"], steps=25)
    page.mouse.up()


def server_runs(app, after: int = 0) -> list[dict]:
    """The server's script runs (ui.common.timings records) after the first `after`."""
    return server_timings.read(app.timings)[after:]


def run_with(app, after: int, mark: str, timeout_s: float = 10) -> dict | None:
    """The first script run after the first `after` that has `mark` (its record is written
    when the run ends, which may be after the prediction is on screen)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [r for r in server_runs(app, after) if any(m[0] == mark for m in r["marks"])]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.05)


def _ms(value: float) -> float:
    return round(value, 1)


def split_stroke(up: float, shown: float, browser: dict, run: dict | None) -> dict:
    """A stroke's release-to-prediction time (epoch ms: `up`, `shown`) cut where the
    browser's clock (conftest.BROWSER_CLOCK) and the server's run record (ui.common.timings)
    say: the canvas component's wait before it encodes the drawing (its debounce), the
    PNG encoding, Streamlit's frontend until the websocket sends, the way to the
    server's script run, the run until the prediction's element is sent, its way back
    (to the first websocket message after it) and the browser's rendering of it. The
    two clocks are the same machine's, but a cut between them can be off by a few ms."""
    out = {"stroke_to_prediction_ms": _ms(shown - up)}
    encoded = [e for e in browser["encoded"] if e[0] >= up]
    sent = [t for t in browser["sent"] if t >= up]
    if encoded:
        out["release_to_encode_ms"] = _ms(encoded[0][0] - up)
        out["encode_ms"] = _ms(encoded[0][1] - encoded[0][0])
    if sent:
        out["release_to_send_ms"] = _ms(sent[0] - up)
        if encoded:
            out["encode_to_send_ms"] = _ms(sent[0] - encoded[0][1])
    if run is None:
        return out
    start = run["start"] * 1000
    prediction = start + next(m[1] for m in run["marks"] if m[0] == "prediction")
    if sent:
        out["send_to_server_run_ms"] = _ms(start - sent[0])
    out["server_run_to_prediction_sent_ms"] = _ms(prediction - start)
    received = [t for t in browser["received"] if t >= prediction]
    if received:
        out["prediction_sent_to_received_ms"] = _ms(received[0] - prediction)
        out["received_to_shown_ms"] = _ms(shown - received[0])
    out["server_share_ms"] = run["total_ms"]  # the whole run: charts and map after it too
    out["server_run"] = run["run"]  # "classify": the panel's fragment; "app": a full run
    out["server_stages_ms"] = {name: _ms(end - begin) for name, begin, end in run["stages"]}
    out["server_values"] = run.get("values", {})  # the model's own time, its batch
    return out


def timed_stroke(page, app=None) -> dict:
    """Draw, wait for the prediction; the in-page time from release to prediction shown,
    split into its parts when the server's timings are at hand (see split_stroke)."""
    page.evaluate(STROKE_TIMER)
    page.evaluate("() => { const c = window.__e2eClock; if (c) { c.sent.length = 0; "
                  "c.received.length = 0; c.encoded.length = 0; } }")
    runs_before = len(server_runs(app)) if app else 0
    start = time.perf_counter()
    draw_vertical_stroke(page)
    released = time.perf_counter()
    expect(prediction_metric(page)).to_be_visible(timeout=FIRST_LOAD_MS)
    seen = time.perf_counter()
    page.wait_for_function("() => window.__e2eStroke && window.__e2eStroke.shown !== null",
                           timeout=5_000)
    page.wait_for_function(ANSWER_SETTLED, arg=ANSWER_QUIET_MS, timeout=FIRST_LOAD_MS,
                           polling=50)
    clock = page.evaluate("() => window.__e2eStroke")
    browser = page.evaluate("() => window.__e2eClock || {sent: [], received: [], encoded: []}")
    run = run_with(app, runs_before, "prediction") if app else None
    return {**split_stroke(clock["up"], clock["shown"], browser, run),
            "stroke_to_answer_settled_ms": _ms(clock["last"] - clock["up"]),
            "seen_by_test_after_release_ms": _ms((seen - released) * 1000),
            "stroke_drag_ms": _ms((released - start) * 1000)}


def summary(strokes: list[dict]) -> dict:
    """Median and maximum of every number the strokes share."""
    keys = [k for k, v in strokes[0].items() if isinstance(v, (int, float))
            and all(isinstance(s.get(k), (int, float)) for s in strokes)]
    return {k: {"median": _ms(statistics.median(s[k] for s in strokes)),
                "max": _ms(max(s[k] for s in strokes))} for k in keys}


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def clear_canvas(page) -> None:
    """Clear, and wait for the prediction to go and the new (empty) canvas to mount."""
    body = main(page)
    body.get_by_role("button", name="Clear").click()
    expect(prediction_metric(page)).to_have_count(0, timeout=20_000)
    settle(page)
    expect(body.locator(DRAWING_CANVAS).first).to_be_visible()
    page.wait_for_timeout(500)  # let the new canvas finish mounting


def cold_start(browser, setup, output_dir: Path, name: str = "server-cold",
               strokes: int = 0) -> dict:
    """A fresh server: seconds from its Popen to Classify's heading and canvas on screen
    (both), and a stroke drawn as soon as the canvas shows (the first run is still
    importing torch and loading the model then: the stroke waits for it); then
    `strokes` more timed strokes, each on a cleared canvas."""
    load = load_average()
    with serve(setup, output_dir, name) as app:
        context, page = new_tab(browser)
        try:
            page.add_init_script(FIRST_SEEN)
            page.goto(app.url + "/")
            heading = main(page).locator("h1").filter(has_text=re.compile(r"Classify\s*$"))
            expect(heading).to_be_visible(timeout=FIRST_LOAD_MS)
            expect(main(page).locator(DRAWING_CANVAS).first).to_be_visible(
                timeout=FIRST_LOAD_MS)
            page.wait_for_function("() => 'heading' in window.__e2eSeen && "
                                   "'canvas' in window.__e2eSeen", timeout=5_000)
            seen = {k: v / 1000 for k, v in page.evaluate("() => window.__e2eSeen").items()}
            first = timed_stroke(page, app)
            predicted = prediction_metric(page).inner_text().strip()
            settle(page, FIRST_LOAD_MS)
            assert_no_errors(page, "Classify on a cold server")
            first_run = next((r for r in server_runs(app) if r["run"] == "app"), None)
            more = []
            for _ in range(strokes):
                clear_canvas(page)
                more.append(timed_stroke(page, app))
                settle(page)
        finally:
            context.close()
    marks = {m[0]: {"ms": m[1], "torch_imported": m[2], "modules": m[3]}
             for m in (first_run or {}).get("marks", [])}
    return {"cold_start_s": round(max(seen["heading"], seen["canvas"]) - app.started, 2),
            "health_s": round(app.healthy - app.started, 2),
            "heading_s": round(seen["heading"] - app.started, 2),
            "canvas_s": round(seen["canvas"] - app.started, 2),
            "first_run_ms": first_run and first_run["total_ms"],
            "first_run_marks": marks,
            "first_run_stages_ms": first_run and {n: _ms(e - b) for n, b, e in
                                                  first_run["stages"]},
            "first_stroke": first, "first_stroke_predicted": predicted,
            "strokes": more, "load_average": [load, load_average()]}


def pick(page, label: str, option: str) -> None:
    """Choose an option of a main-area select box by its label and the option's text start."""
    box = main(page).get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}( |$)")).first.click()
    expect(box).to_have_value(re.compile(rf"^{re.escape(option)}( |$)"))
    settle(page)


def fill_number(page, label: str, value: int) -> None:
    # By its exact label: "Seed" is also the start of the sweep form's "Seeds".
    field = main(page).locator(f'[data-testid="stNumberInput"] input[aria-label="{label}"]')
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))
    settle(page)
