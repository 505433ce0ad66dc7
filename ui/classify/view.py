"""The Classify page's answer: the model's prediction for the input, what it saw, where it
looked, and every model's answer side by side.

pages/classify.py draws the input (the canvas) first and imports this module after: it
imports torch and the charts, most of a cold start.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.networks.catalog import no_model_help
from core.networks.checkpoints import Checkpoint
from core.data import DATASETS
from core.predict.answer import answer as model_answer
from core.predict.classify import classify, from_dataset_image
from core.predict.preprocess import (FORMATS_TEXT, InputError, Preprocessed, from_canvas,
                                     from_image, load_image)
from core.predict.saliency import METHODS, saliency
from ui.classify import fool, neighbours, teach
from ui.classify.familiarity import show_flag
from ui.common import charts, state, timings
from ui.common.errors import show_error
from ui.common.loaders import load_model, test_split, use_one_thread
from ui.common.sidebar import current_selection

UPLOAD_VERSION = "_classify_upload_version"  # bumped to empty the uploader
UPLOAD_REFUSED = "_classify_upload_refused"  # the InputError of a refused file, shown once
METHOD_NAMES = {"gradient": "Input gradient (fast)", "smoothgrad": "SmoothGrad (less noisy)",
                "occlusion": "Occlusion (hide patches)"}
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


def answer(dataset: str, source: str, rgba: np.ndarray | None, left: DeltaGenerator,
           right: DeltaGenerator) -> None:
    """The rest of the page, for the input the page drew (`rgba`: the canvas's drawing)."""
    with timings.stage("selection"):
        sel = current_selection()  # in a stroke's rerun: the last full run's (no sidebar)
    if sel is None:  # it failed: the sidebar, drawn after this, says why
        return
    if sel.model is None:
        right.info(no_model_help(sel.dataset), icon=":material/info:")
        return
    use_one_thread()  # a fragment's rerun runs in a thread of its own
    with timings.stage("load model"):
        ckpt = load_model(sel.model)
    spec = DATASETS[dataset]
    with left:
        with timings.stage("preprocess"):
            pre = _preprocess(source, rgba, dataset, ckpt)
        o1, o2 = st.columns([1.5, 1], vertical_alignment="bottom")
        method = o1.selectbox("Explain with", METHODS, format_func=METHOD_NAMES.get,
                              key="classify_method", persist_state="session",
                              help="How the map of what the model looks at is computed")
        k = o2.select_slider("Top k", [3, 5, 10], value=5, key="classify_k",
                             persist_state="session")
        # A short label: the column is narrow ("Compare every MNIST digits model on
        # this inpu…" was cut); the help says the rest.
        compare_all = st.toggle(f"Compare all models ({len(sel.models)})",
                                key="classify_compare", disabled=len(sel.models) < 2,
                                help=f"Every available {spec.title} model's answer to this "
                                     "input, side by side")
    with right:
        if pre is None or pre.blank:
            _hint(source, pre, spec)
        else:
            _prediction(sel, ckpt, pre, source, method, k)
    if pre is not None and not pre.blank:
        with timings.stage("fool"):  # full width, under both columns
            fool.panel(sel, ckpt, pre)  # runs the attack only while its expander is open
        with timings.stage("neighbours"):  # searches only while its expander is open
            neighbours.panel(sel, pre, source)
    if compare_all and pre is not None and not pre.blank:
        with timings.stage("every model"):
            _every_model(sel, pre)


def _preprocess(source: str, rgba: np.ndarray | None, dataset: str,
                ckpt: Checkpoint) -> Preprocessed | None:
    """The input as the model will see it, with the upload or test-image widgets (draw:
    the page drew the canvas). None: nothing to classify yet."""
    meta, spec = ckpt.meta, DATASETS[dataset]
    if source == "draw":
        return None if rgba is None else from_canvas(rgba, dataset, mean=meta.mean,
                                                     std=meta.std)
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


def _hint(source: str, pre: Preprocessed | None, spec) -> None:
    if source == "upload" and pre is not None:
        st.warning(NO_OBJECT[pre.noisy], icon=":material/image:")
    else:
        hint = HINTS["draw" if source == "draw" else "upload"]
        st.info(hint.format(noun=spec.noun, first=spec.classes[0], last=spec.classes[-1]),
                icon=":material/touch_app:")
    # The empty 28x28 frame keeps the layout from jumping at the first stroke, and
    # makes the browser load its chart library now rather than on that stroke.
    c1, _ = st.columns(2)
    c1.plotly_chart(charts.image_figure(np.zeros((28, 28), np.uint8),
                                        title="What the model will see (28×28)"),
                    config=charts.STATIC, key="classify_seen_empty")


def _prediction(sel: state.Selection, ckpt: Checkpoint, pre: Preprocessed, source: str,
                method: str, k: int) -> None:
    with timings.stage("model"):  # classes, logits, and the gradient map: one pass
        found = model_answer(ckpt.model, pre, ckpt.meta.class_names, k,
                             gradient=method == "gradient")
    result = found.classification
    verdict = show_flag(sel.model, found.logits, ckpt.meta)  # "I don't know": flagged, still shown
    st.session_state[state.CLASSIFY_INPUT] = state.ModelInput(
        sel.dataset, pre.image, SOURCE_NAMES.get(source, "the test image shown on Classify"))
    m1, m2, m3 = st.columns(3)
    m1.metric("Prediction", result.label)
    timings.mark("prediction")
    m2.metric("Confidence", f"{result.confidence:.1%}")
    runner = result.top[1] if len(result.top) > 1 else None
    if runner:
        m3.metric("Runner-up", runner[1], f"{runner[2]:.1%}", delta_color="off",
                  delta_arrow="off")
    teach.offer(sel.dataset, pre.image, result.predicted, source,  # "It's a 7"
                flagged=verdict is not None and not verdict.familiar)
    with timings.stage("charts"):
        st.plotly_chart(charts.top_k_bars(result.top, title=f"Top {k}"), config=charts.STATIC,
                        key="classify_topk")
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.image_figure(pre.image, title="What the model saw (28×28)"),
                        config=charts.STATIC, key="classify_seen")
    with timings.stage("saliency"):  # the slower methods: after the prediction is shown
        sal = found.saliency or saliency(ckpt.model, pre.tensor, result.predicted, method)
        looks = f"Where it looks for “{result.label}”"
        c2.plotly_chart(charts.saliency_overlay(pre.image, sal.values, title=looks),
                        config=charts.STATIC, key="classify_saliency")
    st.caption(f"{sel.model.label} · model time {result.model_ms:.1f} ms on the CPU")


def _every_model(sel: state.Selection, pre: Preprocessed) -> None:
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
