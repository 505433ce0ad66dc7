"""Your handwriting in a real browser: draw a digit, correct its label, fine-tune the model on
it from the Your handwriting page (a tiny fine-tune: one drawing, nothing held out), use the
result, and classify again with it.

    .venv/bin/python -m pytest -q tests/e2e/test_handwriting.py
"""
from __future__ import annotations

import re

from bench.browser import (assert_no_errors, draw_vertical_stroke, go_to, main, prediction_metric,
                           settle, shot)

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's browser_ready fixture skips the module
    expect = None

FINETUNE_MS = 300_000  # a fine-tune of the default model, and the test set scored twice,
# on a 2-core machine that other work may share


def draw_strokes(page) -> str:
    body = main(page)
    draw_option = body.get_by_role("radio", name=re.compile(r"Draw$"))
    if not draw_option.is_checked():
        draw_option.check()
        settle(page)
    if prediction_metric(page).count():
        body.get_by_role("button", name="Clear").click()
        expect(prediction_metric(page)).to_have_count(0, timeout=20_000)
        settle(page)
        page.wait_for_timeout(500)
    draw_vertical_stroke(page)
    expect(prediction_metric(page)).to_have_text(re.compile(r"\S"), timeout=30_000)
    settle(page)
    return prediction_metric(page).inner_text().strip()


READ_STATUS = """() => {
    const main = document.querySelector('[data-testid="stMain"]') || document;
    const bar = main.querySelector('[data-testid="stProgress"]');
    if (!bar) return null;
    const header = [...main.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .find(e => e.innerText.trim().startsWith("Fine-tune run"));
    return [header ? header.innerText.trim() : "", bar.innerText.trim()];
}"""


def _follow_status(page) -> list[tuple[str, str]]:
    """(header, bar text) every half second while the fine-tune's bar is on the page, both
    read in one script call so that a rerun cannot land between the two reads."""
    expect(main(page).locator('[data-testid="stProgress"]')).to_be_visible(timeout=60_000)
    seen = []
    for _ in range(FINETUNE_MS // 500):
        sample = page.evaluate(READ_STATUS)
        if sample is None:
            break
        seen.append(tuple(sample))
        page.wait_for_timeout(500)
    return seen


def _disagreeing(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Samples whose header word is not the bar's first word, in two samples in a row: the
    browser applies a rerun's header and bar one after the other, so one sample may catch
    the page between them, but a header that stays behind the bar is the bug."""
    def off(sample: tuple[str, str]) -> bool:
        header, bar = sample
        return not bar.startswith(header.rsplit("·", 1)[-1].strip())
    return [b for a, b in zip(seen, seen[1:]) if off(a) and off(b)]


def test_draw_correct_finetune_and_classify_again(page, app):
    go_to(page, app.url, "Classify")
    predicted = draw_strokes(page)
    wrong = "7" if predicted != "7" else "4"
    teach = main(page).locator(".st-key-teach")
    teach.locator(".st-key-teach_fix").get_by_role("radio", name=wrong, exact=True).click()
    expect(teach).to_contain_text(re.compile(rf"In your handwriting as a {wrong}|Is this really a "
                                             rf"{wrong}\?"))
    confirm = teach.get_by_role("button", name=f"Yes, keep it as a {wrong}")
    if confirm.count():  # the model flagged the stroke "I don't know": the page asks first
        confirm.click()
    expect(teach).to_contain_text(f"In your handwriting as a {wrong}")
    settle(page)
    assert_no_errors(page, "Classify after correcting the label")
    shot(page, "handwriting-corrected")

    go_to(page, app.url, "Your handwriting")
    body = main(page)
    expect(body.get_by_text(re.compile(rf"^{wrong} · 1 drawing$"))).to_be_visible()
    shot(page, "handwriting-set")
    body.get_by_text("none (no measure)", exact=True).click()  # one drawing: nothing held out
    settle(page)
    body.get_by_role("button", name=re.compile(r"^Fine-tune .* on your handwriting")).click()
    seen = _follow_status(page)
    expect(body.get_by_text("MNIST test set (10,000)")).to_be_visible(timeout=FINETUNE_MS)
    # The live header moved with the bar (it read "Queued" until the end), and the bar
    # never read "step 0/0".
    assert [bar for _, bar in seen if "0/0" in bar or "of 0" in bar] == [], seen
    assert _disagreeing(seen) == [], seen
    assert {"Training", "Scoring"} & {h.rsplit("·", 1)[-1].strip() for h, _ in seen}, seen
    settle(page)
    assert_no_errors(page, "Your handwriting after the fine-tune")
    shot(page, "handwriting-finetuned")
    body.get_by_role("button", name="Use this model on every page").click()
    settle(page)
    expect(body.get_by_role("button", name="In use on every page")).to_be_disabled()

    go_to(page, app.url, "Classify")
    again = draw_strokes(page)
    assert re.fullmatch(r"\d", again), again
    expect(main(page)).to_contain_text("your handwriting")  # the caption names the model
    assert_no_errors(page, "Classify with the fine-tuned model")
    shot(page, "handwriting-classified-again")
