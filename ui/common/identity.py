"""Who this browser is: a signed visitor cookie, or Streamlit's logged-in user.

The visitor id lives in a cookie (`mnist_studio_visitor`, one year), so it
survives refreshes, new tabs and server restarts. Streamlit reads cookies
only from the request that opened the session, so a new visitor's cookie
is written by a line of JavaScript, and the session keeps its id in
session_state meanwhile. The cookie is signed (core/visitors.py): an edited
one is not anyone's, and its holder simply becomes a new visitor.
"""
from __future__ import annotations

import json

import streamlit as st

from core.settings import RunSettings
from core.visitors import Viewer, is_admin_token, new_token, verify_token

COOKIE = "mnist_studio_visitor"
VISITOR = "_visitor_id"  # session_state: this session's visitor id (tests may set it)
ADMIN = "_visitor_admin"  # session_state: the admin token was entered in this session
MAX_AGE = 365 * 24 * 3600


def _secret(name: str) -> str:
    """A value from .streamlit/secrets.toml, or '' when there is none (no file is fine)."""
    try:
        return str(st.secrets.get(name, "") or "")
    except Exception:  # no secrets.toml at all
        return ""


def _logged_in_user() -> str | None:
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("sub") or "")
    except Exception:  # authentication not configured
        return None
    return None


def _write_cookie(slot, value: str) -> None:
    slot.html(f"<script>document.cookie = {json.dumps(f'{COOKIE}={value}')} + "
              f"'; path=/; max-age={MAX_AGE}; SameSite=Lax';</script>",
              unsafe_allow_javascript=True)


def admin_token(settings: RunSettings) -> str:
    return _secret("admin_token") or settings.admin_token


def current_viewer(secret: bytes) -> Viewer:
    """The identity of this session (call once per script run, before any page uses it)."""
    # The cookie's script goes in a slot that every run creates, empty or not: an
    # element present in the first run only would shift every element after it
    # on the next run, and the browser would mount them all afresh (the drawing
    # canvas with them, losing the first stroke of a new visitor's drawing).
    slot = st.empty()
    ss = st.session_state
    admin = bool(ss.get(ADMIN))
    user = _logged_in_user()
    if user:
        admins = {a.strip().lower() for a in _secret("admin_emails").split(",") if a.strip()}
        return Viewer(f"u:{user}", admin=admin or user.lower() in admins)
    if ss.get(VISITOR):
        return Viewer(ss[VISITOR], admin=admin)
    visitor = verify_token(secret, st.context.cookies.get(COOKIE))
    if visitor is None:  # first visit, or a cookie that does not verify
        visitor, token = new_token(secret)
        _write_cookie(slot, token)
    ss[VISITOR] = visitor
    return Viewer(visitor, admin=admin)


def admin_box(settings: RunSettings) -> None:
    """Sidebar: where an admin enters the token (shown only when one is configured)."""
    token = admin_token(settings)
    if not token:
        return
    ss = st.session_state
    with st.expander("Admin", icon=":material/admin_panel_settings:", expanded=False):
        if ss.get(ADMIN):
            st.caption("You manage every run on this server.")
            if st.button("Leave admin mode", key="admin_leave"):
                ss[ADMIN] = False
                st.rerun()
            return
        given = st.text_input("Admin token", type="password", key="admin_token_input")
        if given:
            if is_admin_token(given, token):
                ss[ADMIN] = True
                st.rerun()
            st.error("That is not the admin token.", icon=":material/lock:")
