"""Your handwriting: the digits this visitor labelled on Classify, per class; delete or download
them; fine-tune the sidebar's model on them and see, honestly, whether it got better."""
from __future__ import annotations

import streamlit as st

from ui.common.errors import guard
from ui.common.handwriting import DATASET, my_set
from ui.common.selection import selection
from ui.handwriting import tune, view

sel = selection()
st.title(":material/edit_note: Your handwriting")
st.caption("Digits you drew on **Classify** and labelled there (“It's a 7”), kept as the 28×28 "
           "image the model saw. They are yours alone, like your runs.")

hw = my_set()
if not len(hw):
    st.info("Your set is empty. On **Classify**, draw a digit and click **It's a …** under the "
            "prediction (or the right digit, when it is wrong) to keep it here.",
            icon=":material/info:")
    st.page_link("pages/classify.py", label="Classify", icon=":material/draw:")
else:
    with guard():
        view.downloads(hw)
        view.per_class(hw)

st.subheader("Fine-tune on it")
with guard():
    if sel.dataset != DATASET:
        st.info("Your handwriting is digits: choose MNIST digits in the sidebar to fine-tune a "
                "digit model on it.", icon=":material/info:")
    elif sel.model is None:
        st.info("No digit model to fine-tune yet.", icon=":material/info:")
    else:
        tune.start(sel.model, hw)
    run = tune.followed()
    if run is not None:
        tune.show(run)
