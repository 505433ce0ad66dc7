"""The Classify canvas in a real browser: every region takes a stroke, Undo and Clear,
touch drawing on a phone-sized screen, and the dark theme.

    .venv/bin/python -m pytest -q tests/e2e/test_canvas.py

The component's own toolbar used to lie, invisible until hovered, over the
top-right strip of the canvas (about x 140-280, y 0-30): a stroke starting
there was lost. The grid test starts a stroke in each of 16 regions, the way a
pen or a finger lands (straight down, no hover first), and reads the canvas's
pixels to check that each left ink.
"""
from __future__ import annotations

import re

import pytest

from bench.browser import SCREENSHOTS
from bench.appserver import serve
from bench.browser import DRAWING_CANVAS, FIRST_LOAD_MS, assert_no_errors, go_to, main, prediction_metric, settle

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    PlaywrightError = expect = None

CANVAS_PX = 280  # ui.classify.canvas.SIZE
GRID = 4
CELL = CANVAS_PX // GRID
START = 12  # a stroke starts this far (canvas px) into its cell: row 0 starts at y = 12
LENGTH = 36  # and runs diagonally this far
INK = 128  # a pixel with red > INK is ink (white strokes on black)

# The canvas's pixels at CSS-pixel resolution (the backing store may be 2x on a phone).
CANVAS_PIXELS = """c => {
  const ctx = c.getContext('2d');
  const s = c.width / c.clientWidth;
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = [];
  for (let y = 0; y < c.clientHeight; y++)
    for (let x = 0; x < c.clientWidth; x++)
      out.push(d[(Math.floor(y * s) * c.width + Math.floor(x * s)) * 4]);
  return {w: c.clientWidth, h: c.clientHeight, red: out};
}"""


def drawing_canvas(page):
    """The canvas that takes strokes, in view. After Clear or Undo a new one mounts,
    and the old one may still be swapped out while we look: then look again."""
    canvas = main(page).locator(DRAWING_CANVAS).first
    for attempt in range(3):
        expect(canvas).to_be_visible()
        try:
            canvas.scroll_into_view_if_needed(timeout=5_000)
            return canvas
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(500)


def canvas_pixels(page) -> list[list[int]]:
    """Red channel, rows of columns, in canvas px."""
    got = main(page).locator(DRAWING_CANVAS).first.evaluate(CANVAS_PIXELS)
    assert (got["w"], got["h"]) == (CANVAS_PX, CANVAS_PX), got["w"]
    red = got["red"]
    return [red[row * CANVAS_PX:(row + 1) * CANVAS_PX] for row in range(CANVAS_PX)]


def ink_near(pixels, x: int, y: int, radius: int = 6) -> bool:
    return any(pixels[r][c] > INK
               for r in range(max(0, y - radius), min(CANVAS_PX, y + radius + 1))
               for c in range(max(0, x - radius), min(CANVAS_PX, x + radius + 1)))


def cell_start(row: int, col: int) -> tuple[int, int]:
    return col * CELL + START, row * CELL + START


def pen_stroke(page, canvas, start: tuple[int, int], length: int = LENGTH) -> None:
    """Land straight on `start` (canvas px) from outside the canvas, drag, lift."""
    box = canvas.bounding_box()
    x, y = box["x"] + start[0], box["y"] + start[1]
    page.mouse.move(2, 2)
    page.mouse.move(x, y)  # one jump: no hover on the way, as a pen or finger lands
    page.mouse.down()
    page.mouse.move(x + length, y + length, steps=8)
    page.mouse.up()


def choose_draw(page) -> None:
    body = main(page)
    draw_option = body.get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw_option.is_checked():
        draw_option.check()
        settle(page)


def clear_canvas(page) -> None:
    main(page).get_by_role("button", name="Clear").click()
    settle(page)
    expect(prediction_metric(page)).to_have_count(0, timeout=20_000)
    drawing_canvas(page)
    page.wait_for_timeout(500)  # let the new canvas finish mounting


def test_a_stroke_starting_in_any_region_leaves_ink(page, app):
    go_to(page, app.url, "Classify")
    choose_draw(page)
    clear_canvas(page)
    undo = main(page).get_by_role("button", name="Undo")
    expect(undo).to_be_disabled()  # nothing drawn yet

    cells = [(row, col) for row in range(GRID) for col in range(GRID)]
    for row, col in cells:
        pen_stroke(page, drawing_canvas(page), cell_start(row, col))
        settle(page)
    pixels = canvas_pixels(page)
    missing = [cell_start(r, c) for r, c in cells if not ink_near(pixels, *cell_start(r, c))]
    assert not missing, f"strokes starting at these canvas points left no ink: {missing}"
    expect(prediction_metric(page)).to_be_visible()
    assert_no_errors(page, "Classify after 16 strokes")

    # Undo removes the last stroke only; the canvas keeps the other 15 and a prediction.
    expect(undo).to_be_enabled()
    undo.click()
    settle(page)
    drawing_canvas(page)
    page.wait_for_timeout(500)
    pixels = canvas_pixels(page)
    last = cell_start(*cells[-1])
    assert not ink_near(pixels, *last), "Undo left the last stroke on the canvas"
    kept = [cell_start(r, c) for r, c in cells[:-1] if not ink_near(pixels, *cell_start(r, c))]
    assert not kept, f"Undo also removed the strokes at {kept}"
    expect(prediction_metric(page)).to_be_visible()
    # ...and drawing goes on from there.
    pen_stroke(page, drawing_canvas(page), last)
    settle(page)
    assert ink_near(canvas_pixels(page), *last)

    clear_canvas(page)
    assert not any(v > INK for row in canvas_pixels(page) for v in row)
    expect(undo).to_be_disabled()


def test_undo_after_two_quick_strokes_keeps_a_prediction(page, app):
    """Two strokes in quick succession reach the app as one value; Undo used to leave
    the first stroke on the canvas with no prediction and the "Draw a digit" hint.
    The prediction is now that of the stroke left."""
    go_to(page, app.url, "Classify")
    choose_draw(page)
    clear_canvas(page)
    box = drawing_canvas(page).bounding_box()
    for (x0, y0), (x1, y1) in [((140, 40), (140, 240)), ((60, 140), (220, 140))]:
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        page.mouse.move(box["x"] + x1, box["y"] + y1, steps=8)
        page.mouse.up()  # no settle between: the second stroke follows at once
    settle(page)
    expect(prediction_metric(page)).to_be_visible()
    main(page).get_by_role("button", name="Undo").click()
    settle(page)
    drawing_canvas(page)
    page.wait_for_timeout(500)
    pixels = canvas_pixels(page)
    assert ink_near(pixels, 140, 140) and not ink_near(pixels, 70, 140)  # the bar is left
    expect(prediction_metric(page)).to_be_visible()
    assert main(page).get_by_text(re.compile(r"^Draw a digit")).count() == 0
    assert_no_errors(page, "Classify after Undo")


def touch_stroke(page, canvas, start: tuple[int, int], end: tuple[int, int],
                 steps: int = 12) -> None:
    """A finger drag through Chrome's touch input (page.touchscreen only taps)."""
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    try:
        def point(t: float) -> list[dict]:
            return [{"x": box["x"] + start[0] + (end[0] - start[0]) * t,
                     "y": box["y"] + start[1] + (end[1] - start[1]) * t}]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point(0)})
        for i in range(1, steps + 1):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                  "touchPoints": point(i / steps)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def close_sidebar(page) -> None:
    """On a narrow screen the sidebar opens over the page; a tap on its << closes it."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    if sidebar.get_attribute("data-collapsed") == "false":
        page.locator('[data-testid="stSidebarCollapseButton"] button').tap()
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        settle(page)


def test_drawing_with_a_finger_on_a_phone(browser, app):
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app.url + "/")  # Classify is the default page
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)
        close_sidebar(page)
        choose_draw(page)
        canvas = drawing_canvas(page)
        # A "1" down the middle, starting in the strip the toolbar used to cover.
        touch_stroke(page, canvas, (150, 12), (150, 260))
        expect(prediction_metric(page)).to_be_visible()
        settle(page)
        # Still there after the rerun: a new visitor's first run used to hold one extra
        # element (the cookie script), so the next run mounted a fresh, empty canvas.
        pixels = canvas_pixels(page)
        assert ink_near(pixels, 150, 12) and ink_near(pixels, 150, 140)
        assert_no_errors(page, "Classify on a phone")
        page.screenshot(path=str(SCREENSHOTS / "canvas-touch.png"), full_page=True)
        if app.setup.shipped_weights:
            assert prediction_metric(page).inner_text().strip() == "1"
    finally:
        context.close()


def _luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of an rgb()/rgba() colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_colour)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture(scope="module")
def dark_app(app_setup, output_dir):
    with serve(app_setup, output_dir, "server-dark", ("--theme.base", "dark")) as served:
        yield served


def test_canvas_and_buttons_in_the_dark_theme(browser, dark_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(dark_app.url + "/")
        expect(main(page).locator("h1").first).to_be_visible(timeout=FIRST_LOAD_MS)
        settle(page, FIRST_LOAD_MS)
        choose_draw(page)
        background = page.locator('[data-testid="stApp"]').evaluate(
            "e => getComputedStyle(e).backgroundColor")
        assert _luminance(background) < 0.05, f"not the dark theme: {background}"
        box = drawing_canvas(page).bounding_box()
        page.mouse.move(box["x"] + 140, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 140, box["y"] + 250, steps=15)
        page.mouse.up()
        expect(prediction_metric(page)).to_be_visible()
        settle(page)
        assert ink_near(canvas_pixels(page), 140, 150), "the first stroke vanished"
        for name in ("Undo", "Clear"):
            button = main(page).get_by_role("button", name=name)
            expect(button).to_be_visible()
            expect(button).to_be_enabled()
            colour = button.evaluate("e => getComputedStyle(e).color")
            assert _contrast(colour, background) >= 4.5, (name, colour, background)
        page.mouse.move(2, 2)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "canvas-dark.png"), full_page=True)
        assert_no_errors(page, "Classify, dark theme")
    finally:
        context.close()
