"""A "Download <dataset>" button under the "dataset is not available" message.

Runs core.data.download.download, the same function as `python -m core.data
download`, with an st.progress bar; a failure (no network, a corrupt file) is a
message, and a success reruns the page, which then finds the data.
"""
from __future__ import annotations

import logging

import streamlit as st

from core.data import DataMissingError, data_root, get_spec
from core.data import download as downloader

log = logging.getLogger("mnist_studio")


def offer_download(err: DataMissingError) -> None:
    """The button, for the dataset the error names (nothing when it names none)."""
    if not err.dataset:
        return
    spec = get_spec(err.dataset)
    if not st.button(f"Download {spec.title}", icon=":material/download:", type="primary",
                     key=f"data_download_{spec.name}",
                     help=f"Fetch the four files into {data_root()} and check their MD5 "
                          "checksums (`python -m core.data download` does the same)"):
        return
    bar = st.progress(0.0, text=f"Downloading {spec.title}…")
    try:
        downloader.download(spec.name, progress=lambda f, text: bar.progress(f, text=text))
    except DataMissingError as failure:
        log.warning("download of %s failed: %s", spec.name, failure)
        bar.empty()
        st.error(f"**The download failed.** {failure}", icon=":material/cloud_off:")
        return
    st.rerun()  # the page loads the data now
