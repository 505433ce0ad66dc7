"""Inside the model: every layer's output for one input, the first layer's weights, and
the test set's embedding map."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.data import DATASETS
from core.data.explore import enlarge
from core.predict.activations import LayerKind, activations, feature_grid, first_layer_filters
from core.predict.classify import classify, from_dataset_image
from ui.common import insight_charts, state
from ui.common.charts import STATIC
from ui.common.loaders import evaluation, load_model, test_split
from ui.common.selection import require_model, selection
from ui.inside import embedding_map

SOURCES = {"classify": "Last input on Classify", "test": "A random test image"}

sel = selection()
ss = st.session_state
st.title(":material/layers: Inside the model")
entry = require_model(sel)
ckpt = load_model(entry)
names = list(DATASETS[sel.dataset].classes)
split = test_split(sel.dataset)

# ---------------------------------------------------------------- the input
last = ss.get(state.CLASSIFY_INPUT)
sources = (["classify"] if last is not None and last.dataset == sel.dataset else []) + ["test"]
if ss.get("inside_source") not in sources:
    ss["inside_source"] = sources[0]
if "inside_sample" not in ss:
    ss["inside_sample"] = int(np.random.default_rng().integers(len(split)))

left, right = st.columns([1, 2.2], gap="large")
with left:
    source = st.radio("Input", sources, key="inside_source", format_func=SOURCES.get,
                      horizontal=True)
    if source == "classify":
        image, caption = last.image, f"What the model saw of {last.source} on Classify"
    else:
        if st.button("Another test image", icon=":material/casino:", key="inside_next"):
            ss["inside_sample"] = int(np.random.default_rng().integers(len(split)))
        index = ss["inside_sample"] % len(split)
        image = split.images[index].numpy()
        caption = f"Test image #{index} · true class: {names[int(split.labels[index])]}"
    st.image(enlarge(image, 8), width=224)
    st.caption(caption)
    pre = from_dataset_image(image, ckpt.meta.mean, ckpt.meta.std)
    if pre.blank:
        st.info("This input is blank: draw something on **Classify** first.",
                icon=":material/touch_app:")
        st.stop()
    result = classify(ckpt.model, pre, names, k=2)
    st.metric("Prediction", result.label, f"{result.confidence:.1%} confident",
              delta_color="off", delta_arrow="off")
    st.caption(f"{entry.label}. Each layer's output, from the input (top) to the ten "
               "class scores (bottom). Feature maps: one small image per channel, bright = "
               "high, one brightness scale per layer. Dense layers: one cell per unit, "
               ":red[red] positive, :blue[blue] negative.")

with right:
    st.subheader("Layer by layer")
    layers = activations(ckpt.model, pre.tensor)
    for i, layer in enumerate(layers):
        label_col, view_col = st.columns([1.45, 4], vertical_alignment="center")
        label_col.markdown(f"**{layer.name}**  \n`{' × '.join(map(str, layer.shape))}`")
        with view_col:
            if layer.kind is LayerKind.CONV:
                st.image(feature_grid(layer.values), width="content")
            else:
                labels = names if i == len(layers) - 1 and len(layer.values) == len(names) else None
                st.plotly_chart(insight_charts.heat_strip(layer.values, labels), config=STATIC,
                                key=f"inside_strip_{i}")

# ---------------------------------------------------------------- first layer
st.divider()
filters = first_layer_filters(ckpt.model)
if filters.shape[-1] == 28:  # an MLP: each first-layer unit weighs every pixel
    st.subheader("First layer: what each unit looks for")
    st.caption(f"The {len(filters)} units' weights on the 28×28 input pixels, each on its "
               "own scale: bright pixels push the unit up, dark ones down.")
else:
    st.subheader("First layer: the learned filters")
    st.caption(f"The {len(filters)} convolution kernels ({filters.shape[1]}×{filters.shape[2]}) "
               "that slide over the input, each on its own scale: bright weights respond to "
               "ink, dark ones to background.")
st.image(feature_grid(filters, width=900, per_image=True), width="content")

# ---------------------------------------------------------------- embedding map
st.divider()
st.subheader("Embedding map")
st.caption("Every test image placed by the features the model's last layer sees (its "
           "penultimate layer), reduced to two dimensions by PCA. Colour: the true class; "
           "◆ with an outline: a mistake. Click a point to see its image.")
emb = embedding_map.ready_map(entry)
if emb is None:  # its progress, or why it failed, is on the page
    st.stop()
res = evaluation(entry)
predicted = emb.labels.copy()
predicted[res.mistake_indices] = res.mistake_predicted


def _open_in_mistakes(index: int) -> None:
    ss[state.MISTAKES_REQUEST] = (int(emb.labels[index]), int(predicted[index]), index)


@st.fragment
def embedding_view() -> None:
    """A click on the map reruns only this: the layers above stay as they are."""
    map_col, pick_col = st.columns([3.3, 1], gap="medium")
    with map_col:
        event = st.plotly_chart(
            insight_charts.embedding_map(emb.coords, emb.labels, predicted, names,
                                         emb.explained),
            key="inside_map", on_select="rerun", selection_mode="points",
            config={"displayModeBar": False})
    points = (event or {}).get("selection", {}).get("points", [])
    index = int(points[0]["customdata"][0]) if points and points[0].get("customdata") else None
    if index is not None and emb.labels[index] != predicted[index]:
        # A mistake opens on the Mistakes page (filtered to its pair, shown large). Plotly's
        # hover text cannot hold an image, so a correct one is shown beside the map instead.
        _open_in_mistakes(index)
        st.switch_page("pages/mistakes.py")
    with pick_col:
        if index is None:
            st.info("Click a point: a mistake opens on the Mistakes page, any other image "
                    "shows here.", icon=":material/touch_app:")
        else:
            _picked(index)


def _picked(index: int) -> None:
    true, pred = int(emb.labels[index]), int(predicted[index])
    with st.container(border=True, key="inside_picked"):
        st.markdown(f"**Test image #{index}**")
        st.image(enlarge(split.images[index].numpy(), 8), width="stretch")
        st.markdown(f"**{names[true]}**, classified correctly" if true == pred else
                    f"True: **{names[true]}** · predicted: :red[**{names[pred]}**]")


embedding_view()
