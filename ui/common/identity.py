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

Over HTTPS (the page's URL, or a TLS proxy's X-Forwarded-Proto) the cookie is `Secure`.
The Admin box checks a token once per entry, and wrong ones slow down the next tries
of the session and of its address (core/server/throttle.py); each is one log line.
"""
from __future__ import annotations

import json
import logging
import secrets
import time

import streamlit as st

from core.machine.paths import runs_dir
from core.runs.visitor_log import VisitorLog
from core.server.settings import RunSettings, SettingsError, check_admin_token, load_settings
from core.server.throttle import AttemptThrottle
from core.server.visitors import (LOCAL, NEW_VISITOR_WINDOW, Viewer, address_visitor,
                                  client_address, cookie_attributes, is_admin_token, new_token,
                                  over_https, verify_token)

log = logging.getLogger("mnist_studio")
COOKIE = "mnist_studio_visitor"
VISITOR = "_visitor_id"  # session_state: this session's visitor id (tests may set it)
ADMIN = "_visitor_admin"  # session_state: the admin token was entered in this session
ADDRESS = "_visitor_address"  # session_state: this session's client address
ATTEMPTS = "_admin_attempts_id"  # session_state: this session's key in the admin box's throttle
ADMIN_INPUT = "admin_token_input"
ADMIN_MESSAGE = "_admin_message"  # session_state: what the last entry in the Admin box got
CHECKED = "_settings_checked"  # session_state: the settings were found usable in this session
REFUSED = "_settings_refused"  # session_state: the log has said why this session is refused
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


def request_is_https() -> bool:
    """Whether this session's page was served over HTTPS (AppTest has no client: tests
    patch this)."""
    proto = [v for v in st.context.headers.get_all("X-Forwarded-Proto") or []
             if isinstance(v, str)]
    url = st.context.url
    return over_https(url if isinstance(url, str) else None, proto)


def _write_cookie(slot, value: str) -> None:
    attributes = cookie_attributes(MAX_AGE, secure=request_is_https())
    slot.html(f"<script>document.cookie = {json.dumps(f'{COOKIE}={value}; {attributes}')};"
              "</script>", unsafe_allow_javascript=True)


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
    """The configured admin token ('' for none); SettingsError when it is too short."""
    token = _secret("admin_token")
    check_admin_token(token, ".streamlit/secrets.toml's admin_token")
    return token or settings.admin_token


def settings_problem() -> str | None:
    """Why the app must not run with its settings (an admin token too short, a setting
    out of range), or None. Checked until it passes, once per session; the server log
    says why once per session that is refused."""
    ss = st.session_state
    if ss.get(CHECKED):
        return None
    try:
        admin_token(load_settings())
    except (SettingsError, ValueError) as err:
        if not ss.get(REFUSED):
            log.error("MNIST Studio will not run with these settings: %s", err)
            ss[REFUSED] = True
        return str(err)
    ss[CHECKED] = True
    return None


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


@st.cache_resource(show_spinner=False)
def admin_throttle() -> AttemptThrottle:
    return AttemptThrottle()  # one per server process: shared by every session


def _attempt_keys() -> list[str]:
    """This session's and its address's keys in the throttle."""
    ss = st.session_state
    if ATTEMPTS not in ss:
        ss[ATTEMPTS] = secrets.token_hex(8)
    return [f"session:{ss[ATTEMPTS]}", f"address:{ss.get(ADDRESS) or LOCAL}"]


def _try_admin_token() -> None:
    """The Admin box's on_change: check the entry once (a rerun does not check it again),
    unless this session or its address must wait after wrong ones."""
    ss = st.session_state
    given = ss.get(ADMIN_INPUT) or ""
    ss[ADMIN_INPUT] = ""  # never kept in the box, nor checked twice
    if not given:
        return
    token = admin_token(load_settings())
    throttle, keys = admin_throttle(), _attempt_keys()
    address = ss.get(ADDRESS) or LOCAL
    wait = throttle.wait_seconds(keys)
    if wait > 0:
        log.info("admin token not checked: address %s must wait %.0f s after wrong tokens",
                 address, wait)
        ss[ADMIN_MESSAGE] = (f"Too many wrong tokens from this browser or network address: "
                             f"try again in {wait:.0f} s.")
        return
    if is_admin_token(given, token):
        throttle.succeeded(keys)
        ss[ADMIN], ss[ADMIN_MESSAGE] = True, None
        return
    failures = throttle.failed(keys)
    wait = throttle.wait_seconds(keys)
    log.warning("admin token refused: address %s, failure %d from it or its session; next "
                "try in %.0f s", address, failures, wait)
    ss[ADMIN_MESSAGE] = "That is not the admin token." + (
        f" Wait {wait:.0f} s before the next try." if wait > 0 else "")


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
        st.text_input("Admin token", type="password", key=ADMIN_INPUT,
                      on_change=_try_admin_token)
        if ss.get(ADMIN_MESSAGE):
            st.error(ss[ADMIN_MESSAGE], icon=":material/lock:")
