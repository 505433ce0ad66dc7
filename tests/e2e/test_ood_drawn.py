""""I don't know" for what a person draws, in a real browser, on the shipped default models.

On the MNIST default, a capital A, a smiley and a # drawn with the mouse on the
Classify canvas get the "I don't know" flag (and its reason in words); a clearly
drawn 7 is read as a 7 without it. On the Fashion-MNIST default, chosen in the
sidebar as a person chooses it, a drawn 3 is flagged. Fashion-MNIST has no canvas
(its models learned photos of garments), so the 3 is drawn on the digit canvas,
saved as the browser holds it and uploaded on the Fashion side, as a person shows a
drawing to a model that takes pictures.

    .venv/bin/python -m pytest -q -s tests/e2e/test_ood_drawn.py

Each test prints what the page answered (model, prediction, confidence, flag), so a
run on new weights shows how each drawing fared. The claim is about the shipped
defaults on the real datasets: with stand-in weights or fake data the tests skip.
"""
from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass

import pytest

from bench.browser import (assert_no_errors, clear_canvas, go_to, main, prediction_metric,
                           run_with, server_runs, settle, shot)
from core.data import DATASETS
from tests.e2e.test_canvas import choose_draw, drawing_canvas

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

FLAG = re.compile(r"This does not look like a (digit|garment) the model knows")
# The flag's reason: where the input falls among the validation images, or, for a
# threshold recorded without their percentiles, how often a real one is as unusual.
WHY = re.compile(r"^(Why: )?to this model, (this|the) input is (more unusual|less familiar) "
                 r"than", re.IGNORECASE)
NOT_AVAILABLE = "is not available for this model"
MODEL_TIME = re.compile(r" · model time [\d.]+ ms")
STEP_PX = 6  # mouse moves along a stroke at most this far apart, as a hand's events come

Stroke = list[tuple[float, float]]  # canvas px (the canvas is 280 x 280), y down


def arc(cx: float, cy: float, r: float, start: float, stop: float, n: int = 24) -> Stroke:
    """Points on a circle's arc from `start` to `stop` degrees (clockwise on screen)."""
    return [(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
            for a in (start + (stop - start) * i / n for i in range(n + 1))]


DRAWINGS: dict[str, list[Stroke]] = {
    "A": [[(70, 245), (140, 35), (210, 245)], [(100, 165), (180, 165)]],
    "smiley": [arc(140, 140, 105, 0, 360, 40), [(105, 105), (108, 112)],
               [(175, 105), (178, 112)], arc(140, 150, 60, 20, 160)],
    "#": [[(115, 35), (95, 245)], [(195, 35), (175, 245)], [(45, 100), (245, 100)],
          [(35, 180), (235, 180)]],
    "7": [[(70, 50), (210, 50), (125, 245)]],
    "3": [arc(140, 90, 55, -160, 90), arc(140, 195, 60, -90, 160)],
}

NAMES = {"#": "hash"}  # in screenshot file names


@dataclass
class Reading:
    """What Classify shows for an input, as a person reads it."""
    model: str
    prediction: str
    confidence: str
    flagged: bool
    why: str
    not_available: bool

    def line(self, name: str) -> str:
        flag = "FLAGGED \"I don't know\"" if self.flagged else "not flagged"
        extra = " (no threshold: \"I don't know\" not available)" if self.not_available else ""
        return (f"drawn {name}: {self.model} read {self.prediction!r} at {self.confidence}, "
                f"{flag}{extra}" + (f"; {self.why}" if self.why else ""))


def needs_shipped_defaults(app) -> None:
    if not (app.setup.shipped_weights and app.setup.real_data):
        pytest.skip("the claim is about the shipped default models on the real datasets")


def default_architecture(app, dataset: str) -> str:
    manifest = json.loads((app.setup.weights / "manifest.json").read_text())
    default = manifest["default"][dataset]
    return next(c["architecture"] for c in manifest["checkpoints"] if c["file"] == default)


def sidebar_pick(page, label: str, option: re.Pattern) -> None:
    """Choose an option of a sidebar select box, unless it is chosen already."""
    box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label)
    if option.search(box.input_value()):
        return
    box.click()
    page.get_by_role("option", name=option).first.click()
    expect(box).to_have_value(option)
    settle(page)


def open_default(page, app, dataset: str) -> None:
    """Classify with the dataset and its default model chosen in the sidebar."""
    go_to(page, app.url, "Classify")
    sidebar_pick(page, "Dataset", re.compile(rf"^{re.escape(DATASETS[dataset].title)}$"))
    sidebar_pick(page, "Model",
                 re.compile(rf"^{re.escape(default_architecture(app, dataset))} \(shipped\)"))
    assert_no_errors(page, f"Classify on the {dataset} default")


def answered(page, app, runs_before: int, what: str) -> None:
    """Wait for the script run that answers the latest input to end (the server records
    each run with its marks), then for the page to settle: an earlier input's answer,
    still on screen, is never read as this one's."""
    assert run_with(app, runs_before, "prediction", timeout_s=120) is not None, \
        f"no answer to {what} within 120 s"
    settle(page)


def draw(page, app, strokes: list[Stroke]) -> None:
    """Each stroke with the mouse: press at its first point, move through the rest in
    small steps, lift; the page answers after each stroke."""
    for stroke in strokes:
        runs_before = len(server_runs(app))
        box = drawing_canvas(page).bounding_box()
        points = [(box["x"] + x, box["y"] + y) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x, y) in zip(points, points[1:]):
            page.mouse.move(x, y, steps=max(1, math.ceil(math.dist((x0, y0), (x, y)) / STEP_PX)))
        page.mouse.up()
        answered(page, app, runs_before, "a stroke")


def read_answer(page) -> Reading:
    """The answer once its run has ended: the caption under the charts is its last line."""
    body = main(page)
    expect(prediction_metric(page)).to_be_visible(timeout=30_000)
    captions = body.locator('[data-testid="stCaptionContainer"]')
    expect(captions.filter(has_text=MODEL_TIME)).to_have_count(1, timeout=30_000)
    settle(page)
    texts = [" ".join(t.split()) for t in captions.all_inner_texts()]
    confidence = body.locator('[data-testid="stMetric"]').filter(
        has_text=re.compile(r"^\s*Confidence")).locator('[data-testid="stMetricValue"]')
    warning = body.locator('[data-testid="stAlert"]').filter(has_text=FLAG)
    model = next(MODEL_TIME.split(t)[0].strip() for t in texts if MODEL_TIME.search(t))
    return Reading(model=model,
                   prediction=prediction_metric(page).inner_text().strip(),
                   confidence=confidence.first.inner_text().strip(),
                   flagged=warning.count() > 0 and warning.first.is_visible(),
                   why=next((t for t in texts if WHY.search(t)), ""),
                   not_available=any(NOT_AVAILABLE in t for t in texts))


def drawn_on_canvas(page, app, name: str) -> Reading:
    choose_draw(page)
    clear_canvas(page)
    draw(page, app, DRAWINGS[name])
    assert_no_errors(page, f"Classify after drawing {name}")
    reading = read_answer(page)
    print(reading.line(name))
    shot(page, f"ood-drawn-{NAMES.get(name, name)}")
    return reading


@pytest.mark.parametrize("name", ["A", "smiley", "#"])
def test_a_drawing_of_no_digit_gets_i_dont_know_on_the_mnist_default(page, app, name):
    needs_shipped_defaults(app)
    open_default(page, app, "mnist")
    reading = drawn_on_canvas(page, app, name)
    assert reading.model.startswith(default_architecture(app, "mnist")), reading
    assert reading.flagged, f"a drawn {name} was not flagged: {reading}"
    assert reading.why, f"the flag on a drawn {name} does not say why: {reading}"


def test_a_clearly_drawn_seven_is_read_as_seven_without_a_flag(page, app):
    needs_shipped_defaults(app)
    open_default(page, app, "mnist")
    reading = drawn_on_canvas(page, app, "7")
    assert reading.model.startswith(default_architecture(app, "mnist")), reading
    assert reading.prediction == "7", reading
    assert not reading.flagged and not reading.not_available, reading


def canvas_png(page) -> bytes:
    """The drawing on the canvas as a PNG: white strokes on black, as the browser holds
    them (ui/classify/canvas_component.js)."""
    url = drawing_canvas(page).evaluate("c => c.toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def test_a_drawn_three_shown_to_the_fashion_default_gets_i_dont_know(page, app, tmp_path):
    needs_shipped_defaults(app)
    open_default(page, app, "mnist")
    drawn_on_canvas(page, app, "3")  # on the digit model, for the record
    png = tmp_path / "my-three.png"
    png.write_bytes(canvas_png(page))
    open_default(page, app, "fashion")
    upload = main(page).get_by_role("radio", name=re.compile(r"Upload$"))
    expect(upload).to_be_checked()  # no Draw for garments: Upload comes first
    runs_before = len(server_runs(app))
    main(page).locator('input[type="file"]').first.set_input_files(str(png))
    answered(page, app, runs_before, "the uploaded 3")
    assert_no_errors(page, "Classify (Fashion-MNIST) after uploading a drawn 3")
    reading = read_answer(page)
    print(reading.line("3, uploaded to the Fashion-MNIST default"))
    shot(page, "ood-drawn-three-on-fashion")
    assert reading.model.startswith(default_architecture(app, "fashion")), reading
    assert reading.flagged, f"a drawn 3 passed as a garment: {reading}"
    assert reading.why, reading
