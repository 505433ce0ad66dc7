"""The Classify page's answer: the model's prediction for the input, what it saw, where it
looked, and every model's answer side by side.

pages/classify.py draws the input (the canvas) first and imports this module after: it
imports torch, most of a cold start.

The answer is a fragment of its own (key ANSWER) inside the page's panel, writing into
the panel's right column and the space below: a stroke reruns it alone (the canvas's
callback asks for it), reading the drawing from the canvas's state; the input column
(the canvas, the options) is not sent again. Each part of the answer is a function of
its own, built once per rerun: the model's answer comes from the model's batcher (one
call for the strokes of every visitor that arrive together: ui.common.loaders.batcher),
with the "I don't know" logits and the input-gradient map from the same pass; the
figures are small inline images and HTML bars (ui.common.pictures), not chart-library
figures. The parts a visitor acts on without changing the input are fragments nested
in the answer, so their clicks rerun them alone, not the model: the "It's a 7" buttons,
Fool it, the nearest training images and every model's vote. Each explanation is
computed only when it is shown: the input gradient comes with the answer, SmoothGrad
and occlusion only when chosen, nothing when the visitor turns the map off.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.data import DATASETS
from core.evaluate.percent import percent_text
from core.networks.catalog import no_model_help
from core.networks.checkpoints import Checkpoint
from core.predict.answer import Answer
from core.predict.batching import Busy
from core.predict.classify import Classification, classify, from_dataset_image
from core.predict.preprocess import (FORMATS_TEXT, InputError, Preprocessed, from_canvas,
                                     from_image, load_image)
from core.predict.saliency import METHODS, SaliencyMap, saliency
from ui.classify import canvas, fool, neighbours, teach
from ui.classify.canvas import ANSWER
from ui.classify.familiarity import show_flag
from ui.common import charts, pictures, state, timings
from ui.common.errors import guarded, show_error
from ui.common.handwriting import DATASET as HANDWRITING
from ui.common.loaders import batcher, load_model, test_split, use_one_thread
from ui.common.sidebar import current_selection

UPLOAD_VERSION = "_classify_upload_version"  # bumped to empty the uploader
UPLOAD_REFUSED = "_classify_upload_refused"  # the InputError of a refused file, shown once
NO_MAP = "none"
METHOD_NAMES = {"gradient": "Input gradient (fast)", "smoothgrad": "SmoothGrad (less noisy)",
                "occlusion": "Occlusion (hide patches)", NO_MAP: "No map (fastest)"}
HINTS = {
    "draw": "Draw a {noun} from {first} to {last} in the black box: large and centred, like on "
            "paper. The prediction appears after each stroke.",
    "upload": f"Upload a photo of a {{noun}} ({FORMATS_TEXT}). A light background is inverted "
              "and the object cropped, scaled and centred automatically.",
}
SOURCE_NAMES = {"draw": "your drawing", "upload": "your upload"}
# An upload with nothing to classify: core tells an empty image from a noisy one.
NO_OBJECT = {False: "No object found in this image: it looks blank.",
             True: "No clear object in this image: it is too noisy to tell an object from "
                   "the background."}
PICTURE_PX = 240
# A busy server (the model's queue full, or an answer slower than ANSWER_TIMEOUT_S) is
# asked again, waiting RETRY_FIRST_S and doubling, for up to RETRY_SECONDS in all.
ANSWER_TIMEOUT_S = 5.0
RETRY_FIRST_S, RETRY_SECONDS = 0.2, 20.0
BUSY = "Busy: many people are drawing right now. Retrying…"
TOO_BUSY = ("The server is too busy to answer right now: your drawing is still here, draw "
            "another stroke (or press Undo) in a moment.")


@dataclass(frozen=True)
class Options:
    method: str  # one of METHODS, or NO_MAP
    k: int


def panel(dataset: str, source: str, left: DeltaGenerator, right: DeltaGenerator,
          below: DeltaGenerator) -> None:
    """The rest of the panel: the upload's or test image's widgets and the options on the
    left, then the answer (a fragment: a stroke reruns it alone) on the right and below."""
    with timings.stage("selection"):
        sel = current_selection()  # in the panel's rerun: the last full run's (no sidebar)
    if sel is None:  # it failed: the sidebar, drawn after this, says why
        return
    if sel.model is None:
        right.info(no_model_help(sel.dataset), icon=":material/info:")
        return
    use_one_thread()  # a fragment's rerun runs in a thread of its own
    with timings.stage("load model"):
        ckpt = load_model(sel.model)
    given = None
    with left:
        if source != "draw":
            with timings.stage("preprocess"):
                given = _given(source, dataset, ckpt)
        with timings.stage("options"):
            options = _options()
    answer = st.fragment(timings.recorded("classify", guarded(_answer)), key=ANSWER)
    answer(sel, ckpt, dataset, source, given, options, right, below)


def _answer(sel: state.Selection, ckpt: Checkpoint, dataset: str, source: str,
            given: Preprocessed | None, options: Options, right: DeltaGenerator,
            below: DeltaGenerator) -> None:
    """The answer to the input: a drawing read from the canvas now (a stroke reruns this
    alone), or the upload or test image the panel gave."""
    use_one_thread()  # a fragment's rerun runs in a thread of its own
    pre = given
    if source == "draw":
        with timings.stage("preprocess"):
            pre = _drawn(dataset, ckpt)
    shown = pre is not None and not pre.blank
    with right:
        if not shown:
            _hint(source, pre, DATASETS[dataset], sel)
        else:
            _prediction(sel, ckpt, pre, source, options)
    # Always a container below, even empty: a fragment keeps its place in a container
    # made outside it only if its last full run wrote there (else Streamlit refuses).
    with below:
        parts = st.container()
    if shown:
        with parts:  # full width, under both columns
            with timings.stage("fool"):
                part("fool", fool.panel)(sel, ckpt, pre)  # the attack only while it is open
            with timings.stage("neighbours"):  # searches only while its expander is open
                part("neighbours", neighbours.panel)(sel, pre, source)
            with timings.stage("every model"):
                part("every model", _every_model)(sel, pre)


def part(name: str, func: Callable[..., None]) -> Callable[..., None]:
    """`func` as a fragment nested in the answer: a click on its own widgets reruns it
    alone, recorded as a script run named `name` (ui.common.timings); errors are shown.
    It is drawn in a container of its own, made here: a fragment writing straight into
    a container made outside the answer would land at that container's end."""
    fragment = st.fragment(timings.recorded(name, guarded(func)))

    def in_place(*args, **kwargs) -> None:
        with st.container():
            fragment(*args, **kwargs)

    return in_place


def _options() -> Options:
    o1, o2 = st.columns([1.5, 1], vertical_alignment="bottom")
    method = o1.selectbox("Explain with", [*METHODS, NO_MAP], format_func=METHOD_NAMES.get,
                          key="classify_method", persist_state="session",
                          help="How the map of what the model looks at is computed")
    k = o2.select_slider("Top k", [3, 5, 10], value=5, key="classify_k",
                         persist_state="session")
    return Options(method, k)


def _drawn(dataset: str, ckpt: Checkpoint) -> Preprocessed | None:
    """The canvas's drawing as the model will see it; None before the first stroke."""
    rgba = canvas.drawing()
    if rgba is None:
        return None
    timings.count("preprocess")
    return from_canvas(rgba, dataset, mean=ckpt.meta.mean, std=ckpt.meta.std)


def _given(source: str, dataset: str, ckpt: Checkpoint) -> Preprocessed | None:
    """The upload or the test image as the model will see it, with their widgets. None:
    nothing to classify yet."""
    meta, spec = ckpt.meta, DATASETS[dataset]
    if source == "upload":
        refused = st.session_state.pop(UPLOAD_REFUSED, None)
        key = _upload_key(dataset)
        # No type filter in the widget: the browser's own refusal of a .txt was a red
        # icon with its message cut off; checked here, it gets the page's message.
        upload = st.file_uploader(f"Upload an image of a {spec.noun}", key=key,
                                  on_change=_check_upload, args=(key,),
                                  help=f"{FORMATS_TEXT}, up to 20 MB")
        if refused is not None:
            show_error(refused)
        if upload is None:
            return None
        try:
            timings.count("preprocess")
            pre = from_image(upload, dataset, mean=meta.mean, std=meta.std)
        except InputError as err:
            show_error(err)
            return None
        st.image(upload.getvalue(), caption=upload.name, width=240)
        return pre
    # A random image from the test set: no drawing or file needed to try a model.
    split = test_split(dataset)
    if "classify_sample" not in st.session_state:
        st.session_state["classify_sample"] = 0
    if st.button("Another test image", icon=":material/casino:", key="classify_next"):
        st.session_state["classify_sample"] = int(np.random.default_rng().integers(len(split)))
    index = st.session_state["classify_sample"] % len(split)
    true_name = meta.class_names[int(split.labels[index])]
    st.caption(f"Test image #{index} · true class: **{true_name}**")
    timings.count("preprocess")
    return from_dataset_image(split.images[index].numpy(), meta.mean, meta.std)


def _upload_key(dataset: str) -> str:
    """The uploader's key: a new one after a refused file takes that file off its list."""
    version = st.session_state.get(UPLOAD_VERSION, 0)
    return f"classify_upload_{dataset}" + (f"_{version}" if version else "")


def _check_upload(key: str) -> None:
    """The uploader's callback: a file that is not an image is refused (said by the next
    run) and taken off the uploader."""
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        load_image(upload)
    except InputError as err:
        st.session_state[UPLOAD_REFUSED] = err
        st.session_state[UPLOAD_VERSION] = st.session_state.get(UPLOAD_VERSION, 0) + 1


def _hint(source: str, pre: Preprocessed | None, spec, sel: state.Selection) -> None:
    """Before there is an input: what to do, the model that will answer and how often it
    is right, and the empty frame. The metrics and the link are the answer's kinds of
    element too, so the browser has loaded their code before the first answer (measured:
    about 100 ms of a first stroke's 200 went to fetching it)."""
    if source == "upload" and pre is not None:
        st.warning(NO_OBJECT[pre.noisy], icon=":material/image:")
    else:
        hint = HINTS["draw" if source == "draw" else "upload"]
        st.info(hint.format(noun=spec.noun, first=spec.classes[0], last=spec.classes[-1]),
                icon=":material/touch_app:")
    if sel.model is not None:
        row = st.container(horizontal=True, gap="medium")
        row.metric("Model", sel.model.architecture)
        row.metric("Right on test images", percent_text(sel.model.test_accuracy),
                   help="Its accuracy on the dataset's 10,000 test images")
    if source == "draw" and sel.dataset == HANDWRITING:
        st.page_link("pages/handwriting.py", label="Teach it your handwriting",
                     icon=":material/edit_note:")
    # The empty 28x28 frame keeps the layout from jumping at the first stroke.
    st.html(pictures.picture(np.zeros((28, 28), np.uint8), "What the model will see (28×28)",
                             "an empty 28 by 28 frame", PICTURE_PX))


def _prediction(sel: state.Selection, ckpt: Checkpoint, pre: Preprocessed, source: str,
                options: Options) -> None:
    """The answer column: the flag, the prediction, the teach buttons, the top k, what the
    model saw and where it looked."""
    with timings.stage("model"):  # classes, logits, and the gradient map: one pass
        found = _ask_model(sel, pre, options.k, gradient=options.method == "gradient")
    if found is None:
        return
    result = found.classification
    timings.value("model_ms", result.model_ms)
    timings.value("gradient_ms", found.gradient_ms)
    timings.value("batch", found.batch)
    with timings.stage("flag"):  # "I don't know": flagged, still shown
        verdict = show_flag(sel.model, found.logits, ckpt.meta)
    st.session_state[state.CLASSIFY_INPUT] = state.ModelInput(
        sel.dataset, pre.image, SOURCE_NAMES.get(source, "the test image shown on Classify"))
    with timings.stage("metrics"):
        _metrics(result)
    timings.mark("prediction")
    with timings.stage("teach"):
        part("teach", teach.offer)(sel.dataset, pre.image, result.predicted, source,
                                   flagged=verdict is not None and not verdict.familiar)
    with timings.stage("figures"):  # one element: the top k, what it saw, where it looks
        timings.count("figure", 2)
        top = pictures.bars(result.top, f"Top {options.k}")
        saw = pictures.picture(pre.image, "What the model saw (28×28)",
                               "the 28 by 28 image the model was given", PICTURE_PX)
        figures = st.empty()
        sal = found.saliency  # the input gradient came with the answer
        if sal is None:
            figures.html(top + pictures.row(saw))
    with timings.stage("explanation"):  # the slower methods: after the rest is shown
        if sal is None:
            sal = _explanation(ckpt, pre, found, options.method)
        if sal is not None:
            timings.count("figure")
            looks = pictures.picture(pictures.heat_overlay(pre.image, sal.values),
                                     f"Where it looks for “{result.label}”",
                                     f"the input with the pixels that most change the "
                                     f"score of {result.label} in red to yellow", PICTURE_PX)
            figures.html(top + pictures.row(saw, looks))
    shared = f" (one pass for {found.batch} drawings)" if found.batch > 1 else ""
    st.caption(f"{sel.model.label} · model time {result.model_ms:.1f} ms on the CPU{shared}")


def _ask_model(sel: state.Selection, pre: Preprocessed, k: int,
               gradient: bool) -> Answer | None:
    """The model's answer through its batcher; while the server is busy, "Busy, retrying"
    on the page and again, up to RETRY_SECONDS; then a message (None)."""
    queue = batcher(sel.model)
    note = None
    wait, deadline = RETRY_FIRST_S, time.monotonic() + RETRY_SECONDS
    while True:
        try:
            found = queue.answer(pre, k, gradient, timeout=ANSWER_TIMEOUT_S)
            timings.count("model answer")
            if note is not None:
                note.empty()
            return found
        except Busy:
            timings.count("busy")
            note = note or st.empty()
            if time.monotonic() + wait > deadline:
                note.warning(TOO_BUSY, icon=":material/hourglass_disabled:")
                return None
            note.info(BUSY, icon=":material/hourglass_top:")
            time.sleep(wait)
            wait = min(2 * wait, 2.0)


def _metrics(result: Classification) -> None:
    row = st.container(horizontal=True, gap="medium")  # one block, not a block per column
    row.metric("Prediction", result.label)
    row.metric("Confidence", f"{result.confidence:.1%}")
    runner = result.top[1] if len(result.top) > 1 else None
    if runner:
        row.metric("Runner-up", runner[1], f"{runner[2]:.1%}", delta_color="off",
                   delta_arrow="off")


def _explanation(ckpt: Checkpoint, pre: Preprocessed, found: Answer,
                 method: str) -> SaliencyMap | None:
    """The map of the chosen method: the input gradient came with the answer; the others
    run the model again, only when chosen; none when the visitor turned it off."""
    if method == NO_MAP:
        return None
    if found.saliency is not None:
        return found.saliency
    timings.count("explanation pass")
    return saliency(ckpt.model, pre.tensor, found.classification.predicted, method)


def _every_model(sel: state.Selection, pre: Preprocessed) -> None:
    """A toggle, and when on, each model of the dataset on the same input (a fragment:
    the toggle reruns it alone)."""
    spec = DATASETS[sel.dataset]
    on = st.toggle(f"Compare all models ({len(sel.models)})", key="classify_compare",
                   disabled=len(sel.models) < 2,
                   help=f"Every available {spec.title} model's answer to this input, "
                        "side by side")
    if not on:
        return
    timings.count("every model")
    st.subheader("Every model on this input")
    names, answers, confidences = [], [], []
    for entry in sel.models:
        try:
            other = load_model(entry)
            vote = classify(other.model, pre, other.meta.class_names, k=1)
        except Exception as err:  # one broken file should not hide the others
            show_error(err)
            continue
        names.append(entry.label)
        answers.append(vote.label)
        confidences.append(vote.confidence)
    if answers:
        distinct = sorted(set(answers))
        if len(distinct) == 1:
            st.success(f"All {len(answers)} models say **{distinct[0]}**.", icon=":material/check:")
        else:
            st.warning("The models disagree: " + ", ".join(
                f"**{a}** ({answers.count(a)})" for a in distinct), icon=":material/call_split:")
        st.plotly_chart(charts.votes_bars(names, answers, confidences), config=charts.STATIC,
                        key="classify_votes")
