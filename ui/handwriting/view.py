"""The visitor's handwriting set, per class: every drawing, delete one or all, download."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.handwriting import HandwritingSet, ItemNotFound
from core.data.imageset import idx_zip, npz_bytes

SHOWN_PER_CLASS = 40  # drawings shown per class (all are kept and trained on)
THUMB = 56  # px: 2x the 28x28 input


def _delete(hw: HandwritingSet, item_id: str) -> None:
    try:
        hw.delete(item_id)
    except ItemNotFound:  # deleted from another tab meanwhile: it is gone either way
        pass


def _delete_all(hw: HandwritingSet) -> None:
    n = hw.clear()
    st.toast(f"Deleted your {n} drawings.", icon=":material/delete_forever:")


def downloads(hw: HandwritingSet) -> None:
    arrays = hw.arrays()
    c1, c2, c3 = st.columns(3)
    c1.download_button(".npz (images, labels)", npz_bytes(arrays.images, arrays.labels),
                       "my-handwriting.npz", "application/octet-stream",
                       icon=":material/download:", key="hw_npz", width="stretch",
                       help="images (N, 28, 28) uint8, ink bright on dark, and labels (N,): the "
                            "file `python -m core.train finetune --images` reads")
    c2.download_button("IDX, like MNIST's (.zip)", idx_zip(arrays.images, arrays.labels),
                       "my-handwriting-idx.zip", "application/zip", icon=":material/download:",
                       key="hw_idx", width="stretch",
                       help="handwriting-images-idx3-ubyte and handwriting-labels-idx1-ubyte, "
                            "the format MNIST ships in")
    with c3.popover("Delete all", icon=":material/delete_forever:", width="stretch"):
        st.write(f"Delete all {len(arrays)} drawings? This cannot be undone.")
        st.button("Delete them all", key="hw_delete_all", type="primary",
                  on_click=_delete_all, args=(hw,))


def per_class(hw: HandwritingSet) -> None:
    """One expander per digit with its drawings, each with a delete button."""
    items = hw.items()
    counts = np.bincount([i.label for i in items], minlength=10)
    st.caption(" · ".join(f"**{d}**: {n}" for d, n in enumerate(counts)))
    for digit in range(10):
        mine = [i for i in items if i.label == digit]
        if not mine:
            continue
        with st.expander(f"{digit} · {len(mine)} drawing{'s' * (len(mine) != 1)}",
                         expanded=len(items) <= 60):
            shown = mine[-SHOWN_PER_CLASS:]
            if len(mine) > len(shown):
                st.caption(f"The newest {len(shown)} of {len(mine)}.")
            cols = st.columns(10)
            for n, item in enumerate(shown):
                with cols[n % 10]:
                    st.image(item.image, width=THUMB)
                    st.button("", key=f"hw_del_{item.id}", icon=":material/close:",
                              on_click=_delete, args=(hw, item.id), help="Delete this drawing")
