"""The Train page's storage line: what this visitor keeps, against the limits, and what
retention removes next (core/runs/quotas.py, core/runs/retention.py)."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from core.runs.retention import rule_text
from ui.common import state
from ui.common.loaders import run_service


def recovery_notice() -> None:
    """Said once the app rebuilt a damaged run database at its start."""
    recovery = run_service().recovery
    if recovery is not None:
        st.warning(recovery.message, icon=":material/build:")


def storage_box() -> None:
    service, me = run_service(), state.viewer()
    settings = service.settings
    usage, due = service.quotas.usage(me), service.quotas.prunable(me)
    label = f"Your storage: {usage.text}"
    if due:
        label += f" · {len(due)} run{'s' if len(due) != 1 else ''} due for removal"
    with st.expander(label, icon=":material/hard_drive:"):
        st.caption(rule_text(settings) + (f" Checked every {settings.prune_minutes:g} minutes."
                                          if settings.retention and settings.prune_minutes else ""))
        limits = []
        if usage.max_bytes:
            limits.append(f"at most {usage.max_bytes / 2**20:,.0f} MB per visitor (runs and "
                          "uploads); past it, new runs and uploads are refused")
        if usage.max_uploads:
            limits.append(f"{usage.max_uploads} uploaded checkpoints per visitor")
        if settings.min_free_mb:
            limits.append(f"nothing new is stored while the server has under "
                          f"{settings.min_free_mb:,.0f} MB of free disk")
        if limits:
            st.caption("Limits: " + "; ".join(limits) + ".")
        if due:
            st.markdown("**Removed at the next retention pass** (pinned or running runs never are):")
            st.dataframe([{"Run": p.run_id, "Created": dt.datetime.fromtimestamp(p.created)
                           .strftime("%Y-%m-%d %H:%M"), "MB": round(p.bytes / 2**20, 1)}
                          for p in due], hide_index=True, key="train_prunable")
        else:
            st.caption("None of your runs is due for removal.")
