"""Dataset explorer: random samples of every class, and how many images each class has."""
from __future__ import annotations

import streamlit as st

from core.data import DATASETS
from core.data.explore import class_sample_images, montage
from ui.common import charts
from ui.common.loaders import test_split, train_split
from ui.common.selection import selection

sel = selection()
ss = st.session_state
spec = DATASETS[sel.dataset]
st.title(":material/grid_view: Dataset explorer")
st.caption(f"{spec.title}: 28×28 grayscale images, 10 classes.")

with st.container(horizontal=True, vertical_alignment="bottom"):
    which = st.segmented_control("Split", ["train", "test"], default="test", key="explore_split",
                                 format_func={"train": "Training (60,000)",
                                              "test": "Test (10,000)"}.get, required=True)
    per_class = st.slider("Samples per class", 4, 24, 12, key="explore_per_class", width=260)
    if st.button("Shuffle", icon=":material/shuffle:", key="explore_shuffle"):
        ss["explore_seed"] = ss.get("explore_seed", 0) + 1

split = train_split(sel.dataset) if which == "train" else test_split(sel.dataset)
groups = class_sample_images(split, per_class, seed=ss.get("explore_seed", 0))

st.plotly_chart(charts.class_counts_bars(spec.classes, [g.count for g, _ in groups],
                                         title=f"Images per class ({which} split)"),
                config=charts.STATIC, key="explore_counts")

for group, images in groups:
    c1, c2 = st.columns([1, 6], vertical_alignment="center")
    c1.markdown(f"**{spec.classes[group.label]}**  \n{group.count:,} images")
    c2.image(montage(images, columns=per_class, gap=2, scale=2), width="content")
