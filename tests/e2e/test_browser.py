"""End to end in a real browser: Playwright drives Debian's chromium against `streamlit run`.

    .venv/bin/pytest tests/e2e -q -s

Starts a fresh server and times its cold start (to Classify's heading and canvas
on screen) and a stroke drawn right away; then, on the module's server, visits every
page through the sidebar, draws vertical strokes on the Classify canvas and waits for
the prediction (timing each, split into the browser's, the network's and the
server's shares), starts a short training run, watches the live chart grow, presses
Stop and sees the run stop. The timings are printed and written to
test-output/e2e-timings.json; nothing is asserted about them (speed goals are
benchmarks' business: bench/app_latency.py). Screenshots go to
test-output/screenshots/; with MNIST_STUDIO_UPDATE_SCREENSHOTS=1 the README's
docs/screenshots/<page>.png are refreshed too. The tests share one browser tab
and run in file order, but each one navigates to its own page first.
"""
from __future__ import annotations

import re
import time

from bench.browser import (CHART_POINTS, DOCS_NAMES, DOCS_TRAIN_POINTS, DRAWING_CANVAS, PAGES,
                           PAGE_MS, UPDATE_DOCS, assert_no_errors, clear_canvas, cold_start,
                           docs_shot, fill_number, go_to, load_average, main, nav_titles,
                           open_app, pick, prediction_metric, settle, shot, summary, timed_stroke)

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module (or fails it in CI)
    PlaywrightTimeout = expect = None

# ---------------------------------------------------------------------- tests

STROKES = 5  # timed strokes on the module's server, each on a cleared canvas


def test_cold_start_and_first_stroke(browser, app_setup, output_dir, timings):
    """A fresh server shows Classify's heading and canvas; a stroke drawn at once gets its
    prediction (a 1 with the shipped weights) once the first run has loaded the model."""
    cold = cold_start(browser, app_setup, output_dir)
    timings["cold_start"] = cold
    first = cold["first_stroke"]
    print(f"\ncold start: heading and canvas on screen {cold['cold_start_s']} s after Popen "
          f"(health {cold['health_s']} s, heading {cold['heading_s']} s, canvas "
          f"{cold['canvas_s']} s; first script run {cold['first_run_ms']} ms, its marks "
          f"{cold['first_run_marks']}); a stroke drawn then: prediction after "
          f"{first['stroke_to_prediction_ms']} ms; load average {cold['load_average'][0]}")
    if app_setup.shipped_weights:
        assert cold["first_stroke_predicted"] == "1"
    else:
        assert cold["first_stroke_predicted"]


def test_every_page_loads(page, app, timings):
    """Every sidebar page opens with its heading and without an error box."""
    open_app(page, app.url)
    titles = nav_titles(page)
    assert titles == PAGES, f"sidebar pages: {titles}"
    loads = {}
    for title in PAGES:
        start = time.perf_counter()
        go_to(page, app.url, title)
        body = main(page)
        if title == "Classify":
            expect(body.locator(DRAWING_CANVAS).first).to_be_visible()
        elif title == "Inside the model":
            expect(body.get_by_text("Layer by layer")).to_be_visible(timeout=PAGE_MS)
            expect(body.get_by_text("Embedding map")).to_be_visible(timeout=PAGE_MS)
        elif title == "Your handwriting":
            expect(body.get_by_text("Your set is empty")).to_be_visible()
            expect(body.get_by_text("Fine-tune on it")).to_be_visible()
        elif title == "Compare runs":
            expect(body.get_by_text(re.compile(r"No training runs yet|Settings"))
                   .first).to_be_visible()
        elif title == "Train":
            expect(body.get_by_role("button", name="Start training")).to_be_visible()
        elif title == "Evaluate":
            expect(body.locator('[data-testid="stMetric"]').filter(
                has_text="Test accuracy").first).to_be_visible()
            expect(body.get_by_text("Compare two models")).to_be_visible()
            expect(body.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
        elif title == "Mistakes":
            expect(body.get_by_text(re.compile(r"[\d,]+ of [\d,]+ mistakes"))).to_be_visible()
            expect(body.locator('[data-testid="stImage"]').first).to_be_visible()
        elif title == "Dataset explorer":
            expect(body.locator('[data-testid="stImage"]').first).to_be_visible()
        settle(page)
        assert_no_errors(page, title)
        loads[title] = round(time.perf_counter() - start, 2)
        shot(page, f"page-{DOCS_NAMES[title]}")
        if title in ("Evaluate", "Mistakes", "Dataset explorer"):
            docs_shot(page, title)
    timings["page_load_seconds"] = loads
    print(f"\npage loads (s): {loads}")


def test_draw_stroke_shows_prediction(page, app, timings):
    """A vertical stroke drawn with the mouse is classified; with the shipped model, as a 1.
    Timed STROKES times, each on a cleared canvas (the first also warms caches)."""
    go_to(page, app.url, "Classify")
    body = main(page)
    draw_option = body.get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw_option.is_checked():  # the source: Draw / Upload / Test image
        draw_option.check()
        settle(page)
    load = load_average()
    strokes, predicted = [], []
    for n in range(STROKES):
        if prediction_metric(page).count():  # a drawing left from before: start clean
            clear_canvas(page)
        strokes.append(timed_stroke(page, app))
        settle(page)
        assert_no_errors(page, f"Classify after stroke {n + 1}")
        predicted.append(prediction_metric(page).inner_text().strip())
        if n == 0:
            confidence = body.locator('[data-testid="stMetric"]').filter(
                has_text=re.compile(r"^\s*Confidence")).locator('[data-testid="stMetricValue"]')
            expect(confidence).to_have_text(re.compile(r"\d+(\.\d+)?%"))
            shot(page, "classify-first-stroke")
    shot(page, "classify-prediction")
    docs_shot(page, "Classify")

    stats = summary(strokes)
    timings["classify"] = {"strokes": strokes, "summary": stats, "predicted": predicted,
                           "shipped_weights": app.setup.shipped_weights,
                           "real_data": app.setup.real_data,
                           "load_average": [load, load_average()]}
    e2e, share = stats["stroke_to_prediction_ms"], stats.get("server_share_ms", {})
    print(f"\nstroke -> prediction over {STROKES} strokes: median {e2e['median']} ms, max "
          f"{e2e['max']} ms; the server's share (its script run) median "
          f"{share.get('median')} ms, max {share.get('max')} ms (predicted {predicted}); "
          f"load average {load} -> {load_average()}")
    for key, value in stats.items():
        if key not in ("stroke_to_prediction_ms", "server_share_ms"):
            print(f"  {key}: median {value['median']}, max {value['max']}")
    if app.setup.shipped_weights:  # a model trained on real MNIST reads a vertical bar as 1
        assert predicted == ["1"] * STROKES, predicted
    else:
        assert all(predicted)


def test_training_live_chart_and_stop(page, app, timings):
    """Start a short run, see the live chart and progress move, press Stop, see it stopped."""
    go_to(page, app.url, "Train")
    body = main(page)
    # Small settings that still run long enough to watch and stop: real MNIST is
    # 48,000 training images (seconds per epoch); the fake data only 400.
    arch, epochs, batch = ("ffnn", 5, 128) if app.setup.real_data else ("cnn", 200, 32)
    pick(page, "Architecture", arch)
    fill_number(page, "Epochs", epochs)
    pick(page, "Batch size", str(batch))

    start = time.perf_counter()
    body.get_by_role("button", name="Start training").click()
    stop_button = body.get_by_role("button", name="Stop")
    expect(stop_button).to_be_visible(timeout=30_000)
    expect(body.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=60_000)
    progress = body.locator('[data-testid="stProgress"]')

    # The chart has points, then more points a moment later; the progress text moves on.
    page.wait_for_function(f"() => ({CHART_POINTS})() > 0", timeout=PAGE_MS, polling=250)
    first_points = page.evaluate(CHART_POINTS)
    first_text = progress.inner_text()
    first_at = time.perf_counter()
    page.wait_for_function(f"n => ({CHART_POINTS})() > n", arg=first_points, timeout=60_000,
                           polling=250)
    expect(progress).not_to_have_text(first_text, timeout=30_000)
    second_points = page.evaluate(CHART_POINTS)
    second_text = progress.inner_text()
    chart_update_s = time.perf_counter() - first_at
    assert re.search(r"Epoch \d+/\d+ · step [\d,]+/[\d,]+", second_text), second_text
    assert_no_errors(page, "Train while running")
    shot(page, "train-running")
    if UPDATE_DOCS:  # a README picture with a bit more curve in it (best effort)
        try:
            page.wait_for_function(f"() => ({CHART_POINTS})() >= {DOCS_TRAIN_POINTS}",
                                   timeout=30_000, polling=500)
        except PlaywrightTimeout:
            pass
        docs_shot(page, "Train")

    stop_button.click()
    pressed = time.perf_counter()
    expect(body.get_by_text("Stopped", exact=True)).to_be_visible(timeout=60_000)
    stop_s = time.perf_counter() - pressed
    expect(stop_button).to_have_count(0)
    expect(body.get_by_role("button", name="Start training")).to_be_visible()
    settle(page)
    assert_no_errors(page, "Train after Stop")
    expect(body.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
    run_label = body.get_by_role("combobox", name="Run").input_value()
    shot(page, "train-stopped")

    timings["train"] = {"settings": {"model": arch, "epochs": epochs, "batch_size": batch},
                        "start_to_first_points_s": round(first_at - start, 2),
                        "chart_points": [first_points, second_points],
                        "progress": [first_text, second_text],
                        "chart_update_s": round(chart_update_s, 2),
                        "stop_to_stopped_s": round(stop_s, 2),
                        "run_select_after_stop": run_label}
    print(f"\ntraining: chart {first_points} -> {second_points} points, "
          f"'{first_text}' -> '{second_text}'; stopped {stop_s:.1f} s after Stop "
          f"(run select: {run_label!r})")
