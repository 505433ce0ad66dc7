"""Show me the code: a run's settings as a standalone PyTorch script (core.train.script).

The expander is lazy: the script is written only while it is open, so a closed one
costs the Train page's reruns nothing.
"""
from __future__ import annotations

import streamlit as st

from core.networks.spec import SpecError
from core.train.config import TrainConfig
from core.train.script import script

FILE_NAME = "run.py"


def show_code(cfg: TrainConfig, key: str, what: str = "this run") -> None:
    """The expander with the script of `cfg`, a Download button and the code itself.
    `key` names its widgets (one expander per place on the page)."""
    box = st.expander(f"Show me the code: {what} as a PyTorch script", icon=":material/code:",
                      key=f"{key}_open", on_change="rerun")
    if not box.open:
        return
    with box:
        try:
            text = script(cfg)
        except SpecError as err:  # a layer kind without a code rule
            st.warning(str(err), icon=":material/code_off:")
            return
        st.caption("One file that imports only torch and torchvision and trains the same "
                   "network with the same settings, split, optimizer, schedule and "
                   f"augmentation. Run it with `python {FILE_NAME} --data DIR --epochs "
                   f"{cfg.epochs}` (DIR: a torchvision data root, downloaded there when "
                   "missing), on a CPU or a GPU; its last line is `test accuracy: …`.")
        st.download_button(f"Download {FILE_NAME}", data=text, file_name=FILE_NAME,
                           mime="text/x-python", icon=":material/download:",
                           key=f"{key}_download", on_click="ignore")
        st.code(text, language="python")


def no_code_for_finetune() -> None:
    """A fine-tune starts from another model's weights and a visitor's drawings, which a
    standalone script cannot carry: said instead of a script."""
    st.caption(":material/code_off: No script for a fine-tune: it starts from another "
               "model's weights and trains on your drawings, which a standalone script "
               "cannot carry. The run it started from has one.")
