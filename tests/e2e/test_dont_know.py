""""I don't know" in a real browser, with the shipped default models: a capital A, a
smiley and a # drawn with the mouse on the MNIST canvas are flagged, and so is a 3 shown
to the garment model; a clearly drawn 7 is not.

    .venv/bin/python -m pytest -q tests/e2e/test_dont_know.py

The garment model has no canvas (Fashion-MNIST is not `drawable`): the 3 is drawn with
the mouse on the canvas, its picture taken from the browser, and uploaded on the Fashion
side, as a person shows a drawing to a model that takes photos.
"""
from __future__ import annotations

import base64
import math
import re

import pytest

from tests.e2e.test_browser import assert_no_errors, go_to, main, prediction_metric, settle
from tests.e2e.test_canvas import choose_draw, clear_canvas, drawing_canvas

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

FLAG = re.compile(r"This does not look like a (digit|garment) the model knows")
WHY = re.compile(r"Why: to this model, this input is more unusual than")

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, r: float, start: float, stop: float, n: int = 24) -> Stroke:
    return [(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
            for a in (start + (stop - start) * i / n for i in range(n + 1))]


DRAWINGS: dict[str, list[Stroke]] = {
    "A": [[(70, 245), (140, 35), (210, 245)], [(100, 165), (180, 165)]],
    "smiley": [_arc(140, 140, 105, 0, 360, 40), [(105, 105), (107, 110)],
               [(175, 105), (177, 110)], _arc(140, 150, 60, 20, 160)],
    "#": [[(115, 35), (95, 245)], [(195, 35), (175, 245)], [(45, 100), (245, 100)],
          [(35, 180), (235, 180)]],
    "7": [[(70, 50), (210, 50), (125, 245)]],
    "3": [_arc(140, 90, 55, -160, 90), _arc(140, 195, 60, -90, 160)],
}


def draw(page, strokes: list[Stroke]) -> None:
    """Each stroke with the mouse: press at its first point, move through the rest, lift."""
    for stroke in strokes:
        box = drawing_canvas(page).bounding_box()
        points = [(box["x"] + x, box["y"] + y) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
        settle(page)


def flagged(page) -> bool:
    warning = main(page).locator('[data-testid="stAlert"]').filter(has_text=FLAG)
    return warning.count() > 0 and warning.first.is_visible()


def _needs_shipped_models(app) -> None:
    if not (app.setup.shipped_weights and app.setup.real_data):
        pytest.skip("the claim is about the shipped default models on the real datasets")


def _drawn(page, name: str) -> None:
    clear_canvas(page)
    draw(page, DRAWINGS[name])
    expect(prediction_metric(page)).to_be_visible(timeout=30_000)
    assert_no_errors(page, f"Classify after drawing {name}")


@pytest.mark.parametrize("name", ["A", "smiley", "#"])
def test_a_drawing_of_no_digit_gets_i_dont_know(page, app, name):
    _needs_shipped_models(app)
    go_to(page, app.url, "Classify")
    choose_draw(page)
    _drawn(page, name)
    assert flagged(page), f"a drawn {name} was not flagged: {prediction_metric(page).inner_text()}"
    # ...and it says why, in words.
    expect(main(page).get_by_text(WHY).first).to_be_visible()


def test_a_clearly_drawn_seven_is_read_without_a_flag(page, app):
    _needs_shipped_models(app)
    go_to(page, app.url, "Classify")
    choose_draw(page)
    _drawn(page, "7")
    expect(prediction_metric(page)).to_have_text("7")
    assert not flagged(page)


def _canvas_png(page) -> bytes:
    """The strokes on the canvas as a PNG (white on transparent, as the browser holds them)."""
    url = main(page).locator("canvas.dc-canvas.lower-canvas").first.evaluate(
        "c => c.toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def test_a_drawn_three_shown_to_the_garment_model_gets_i_dont_know(page, app, tmp_path):
    _needs_shipped_models(app)
    go_to(page, app.url, "Classify")
    choose_draw(page)
    _drawn(page, "3")
    png = tmp_path / "my-three.png"
    png.write_bytes(_canvas_png(page))
    sidebar = page.locator('[data-testid="stSidebar"]')
    box = sidebar.get_by_role("combobox", name="Dataset")
    box.click()
    page.get_by_role("option", name=re.compile("Fashion-MNIST")).first.click()
    settle(page)
    main(page).get_by_role("radio", name=re.compile(r"Upload$")).check()
    settle(page)
    main(page).locator('input[type="file"]').first.set_input_files(str(png))
    settle(page)
    expect(prediction_metric(page)).to_be_visible(timeout=30_000)
    assert_no_errors(page, "Classify (Fashion) after uploading a drawn 3")
    assert flagged(page), f"a drawn 3 passed as a garment: {prediction_metric(page).inner_text()}"
