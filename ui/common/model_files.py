"""Models in and out of the app: upload a checkpoint, download the selected model exported.

Uploaded models belong to the visitor's session (their files to a per-visitor folder,
core.server.uploads) and join the sidebar's model list, so every page can use them.
"""
from __future__ import annotations

import streamlit as st

from core.networks.catalog import SHIPPED, ModelEntry
from core.networks.checkpoints import Checkpoint, CheckpointError
from core.export.exporting import ExportFormat, export_bytes
from core.runs.api import LimitReached
from core.server.uploads import accept_upload, visitor_folder
from ui.common import state
from ui.common.loaders import load_model, run_service

UPLOAD_KEY = "model_upload"  # the uploader's key (with a version after a refused file)
UPLOAD_VERSION = "_model_upload_version"  # bumped to take a refused file off the uploader
UPLOADED = "_uploaded_models"  # {key: ModelEntry}: this session's uploaded checkpoints
UPLOAD_NOTE = "_upload_note"  # ("success" | "error", message) to show once
FORMAT_NAMES = {ExportFormat.ONNX: "ONNX", ExportFormat.TORCHSCRIPT: "TorchScript"}


def uploaded_models(dataset: str | None = None) -> list[ModelEntry]:
    """This session's uploads whose files are still there, oldest first."""
    entries = st.session_state.get(UPLOADED, {}).values()
    return [e for e in entries if (dataset is None or e.dataset == dataset) and e.path.is_file()]


def upload_key() -> str:
    """The uploader's key now: a new key is a new, empty uploader."""
    version = st.session_state.get(UPLOAD_VERSION, 0)
    return UPLOAD_KEY + (f"_{version}" if version else "")


def _refuse(message: str) -> None:
    """Say why (once, in the box) and take the file off the uploader."""
    ss = st.session_state
    ss[UPLOAD_NOTE] = ("error", message)
    ss[UPLOAD_VERSION] = ss.get(UPLOAD_VERSION, 0) + 1


def _on_upload(key: str) -> None:
    """Validate and keep the file, then select it: callbacks run before the widgets."""
    ss = st.session_state
    upload = ss.get(key)
    if upload is None:
        ss.pop(UPLOAD_NOTE, None)  # the file was removed: its message goes with it
        return
    raw, service = upload.getvalue(), run_service()
    try:
        service.quotas.check_upload(state.viewer(), len(raw))  # quotas and the disk's floor
        entry = accept_upload(raw, upload.name, visitor_folder(service.runs_dir, state.viewer().id))
    except CheckpointError as err:
        _refuse(f"This checkpoint cannot be used. {err}")
        return
    except LimitReached as err:
        _refuse(f"Not added. {err}")
        return
    ss.setdefault(UPLOADED, {})[entry.key] = entry
    state.use_model(entry.dataset, entry.key)
    ss[UPLOAD_NOTE] = ("success", f"Added {entry.label} to the {entry.dataset} models.")


def upload_box() -> None:
    key = upload_key()
    # No type filter in the widget: the browser's own refusal of a .txt was a red icon
    # with its message cut off in the sidebar; accept_upload says why, here.
    st.file_uploader("Use your own checkpoint", key=key, on_change=_on_upload, args=(key,),
                     help="A .pt file written by MNIST Studio (the Train page or "
                          "`python -m core.train`). It is checked (weights only, architecture, "
                          "shapes), then offered on every page, for this session.")
    note = st.session_state.pop(UPLOAD_NOTE, None)
    if note:
        kind, message = note
        (st.error if kind == "error" else st.success)(
            message, icon=":material/error:" if kind == "error" else ":material/check:")


@st.cache_data(show_spinner=False, max_entries=16)
def _exported(path: str, mtime_ns: int, size: int, fmt: str, _ckpt: Checkpoint) -> bytes:
    # Keyed by the file's stamp (the checkpoint itself is not hashed: underscore).
    return export_bytes(_ckpt, fmt)


def exported(entry: ModelEntry, fmt: ExportFormat | str) -> bytes:
    """The entry's model exported (computed once per file and format)."""
    stat = entry.path.stat()
    return _exported(str(entry.path), stat.st_mtime_ns, stat.st_size, ExportFormat(fmt).value,
                     load_model(entry))


def export_buttons(entry: ModelEntry) -> None:
    """Download buttons for the selected model; the export runs on click (ONNX takes seconds)."""
    st.caption("Export: input (N, 1, 28, 28) float32 pixels in [0, 1], ink bright on dark; "
               "output the 10 logits; normalisation built in.")
    stem = entry.path.stem if entry.source == SHIPPED else f"{entry.dataset}-{entry.architecture}"
    # One under the other: side by side in the sidebar, "TorchScript" was cut to "Torc…".
    for fmt in ExportFormat:
        st.download_button(FORMAT_NAMES[fmt], data=lambda fmt=fmt: exported(entry, fmt),
                            file_name=f"{stem}{fmt.suffix}",
                            mime=fmt.mime, key=f"export_{fmt.value}", icon=":material/download:",
                            on_click="ignore", width="stretch")


def model_files_box(entry: ModelEntry | None) -> None:
    """The sidebar's expander: upload a checkpoint, export the selected model."""
    with st.expander("Your model, elsewhere", icon=":material/swap_vert:"):
        upload_box()
        if entry is not None:
            export_buttons(entry)
