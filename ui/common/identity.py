"""Who this browser is: a signed visitor cookie, or Streamlit's logged-in user.

The visitor id lives in a cookie (`mnist_studio_visitor`, one year), so it
survives refreshes, new tabs and server restarts. Streamlit reads cookies
only from the request that opened the session, so a new visitor's cookie
is written by a line of JavaScript, and the session keeps its id in
session_state meanwhile. The cookie is signed (core/server/visitors.py): an edited
one is not anyone's, and its holder simply becomes a new visitor.

With limits per client address on (core/server/settings.py), each session also records
its address (the connection's, or X-Forwarded-For's hop behind the trusted
proxies), and an address that had max_new_visitors_per_address new ids within
the hour gets no more: its cookie-less sessions share one id (and its limits).
"""
from __future__ import annotations

import json
import logging
import time

import streamlit as st

from core.machine.paths import runs_dir
from core.runs.visitor_log import VisitorLog
from core.server.settings import RunSettings, load_settings
from core.server.visitors import (NEW_VISITOR_WINDOW, Viewer, address_visitor, client_address,
                           is_admin_token, new_token, verify_token)

log = logging.getLogger("mnist_studio")
COOKIE = "mnist_studio_visitor"
VISITOR = "_visitor_id"  # session_state: this session's visitor id (tests may set it)
ADMIN = "_visitor_admin"  # session_state: the admin token was entered in this session
ADDRESS = "_visitor_address"  # session_state: this session's client address
MAX_AGE = 365 * 24 * 3600
SHARED_ID = ("Many new visitors came from your network address within the hour, so this "
             "browser shares one visitor identity (and its limits) with the others past that "
             "number. Sessions that keep their cookie are not affected.")


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


def request_origin() -> tuple[str | None, list[str]]:
    """The connection's address (None from this machine) and the X-Forwarded-For hops of
    the request that opened the session. AppTest has no client: tests patch this."""
    # Only strings count: without a client (AppTest, bare mode) st.context gives stand-ins.
    hops: list[str] = []
    for value in st.context.headers.get_all("X-Forwarded-For") or []:
        if isinstance(value, str):
            hops += [h.strip() for h in value.split(",") if h.strip()]
    ip = st.context.ip_address
    return (ip if isinstance(ip, str) else None), hops


@st.cache_resource(show_spinner=False)
def _visitor_log(folder: str) -> VisitorLog:
    return VisitorLog(folder)


def _visitor_for(secret: bytes, slot, address: str, settings: RunSettings) -> str:
    """This session's visitor id: its cookie's, else a new one, else (an address past its
    new ids for the hour) the address's shared id."""
    visitor = verify_token(secret, st.context.cookies.get(COOKIE))
    registry = _visitor_log(str(runs_dir())) if settings.address_limits else None
    if visitor is not None:
        if registry is not None:
            registry.seen(visitor, address)
        return visitor
    cap = settings.max_new_visitors_per_address
    if registry is not None and cap and \
            registry.new_since(address, time.time() - NEW_VISITOR_WINDOW) >= cap:
        visitor = address_visitor(secret, address)
        registry.seen(visitor, address)
        slot.info(SHARED_ID, icon=":material/group:")
        return visitor
    visitor, token = new_token(secret)
    _write_cookie(slot, token)
    if registry is not None:
        registry.seen(visitor, address, new=True)
    return visitor


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
    settings = None
    if ADDRESS not in ss:  # once per session: the request that opened it does not change
        settings = load_settings()
        ss[ADDRESS] = client_address(*request_origin(), settings.trusted_proxies)
    address = ss[ADDRESS]
    user = _logged_in_user()
    if user:
        admins = {a.strip().lower() for a in _secret("admin_emails").split(",") if a.strip()}
        return Viewer(f"u:{user}", admin=admin or user.lower() in admins, address=address)
    if not ss.get(VISITOR):
        ss[VISITOR] = _visitor_for(secret, slot, address, settings or load_settings())
    return Viewer(ss[VISITOR], admin=admin, address=address)


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
