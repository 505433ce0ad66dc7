"""The sidebar's Admin box against guessing (AppTest), the refusal to run with a short admin
token, and the visitor cookie's `Secure` over HTTPS. The throttle's own rules are in
tests/test_throttle.py; here it gets a clock the test moves."""
from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

import ui.common.identity as identity
from core.server.throttle import AttemptThrottle
from tests.apptest import APP, TIMEOUT, new_session, no_exception
from ui.common.identity import ADMIN, COOKIE

TOKEN = "correct-horse-battery-staple"  # 28 characters


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def admin(env, monkeypatch):
    """A configured admin token, and a throttle of its own with a clock that stands still."""
    monkeypatch.setenv("MNIST_STUDIO_ADMIN_TOKEN", TOKEN)
    clock = Clock()
    throttle = AttemptThrottle(clock=clock)
    monkeypatch.setattr(identity, "admin_throttle", lambda: throttle)
    return clock


def _enter(at, token: str):
    at.text_input(key="admin_token_input").set_value(token).run()
    no_exception(at)
    return [e.value for e in at.error]


def test_wrong_tokens_slow_down_the_next_tries_and_are_logged(admin, caplog):
    at = new_session()
    with caplog.at_level(logging.INFO, logger="mnist_studio"):
        for _ in range(3):
            assert _enter(at, "guess") == ["That is not the admin token."]
        assert _enter(at, "guess") == ["That is not the admin token. Wait 1 s before the next try."]
        # During the wait even the right token is not checked.
        assert _enter(at, TOKEN) == ["Too many wrong tokens from this browser or network "
                                     "address: try again in 1 s."]
        assert not any("You manage every run" in c.value for c in at.caption)
    refused = [r.getMessage() for r in caplog.records if "admin token refused" in r.getMessage()]
    assert len(refused) == 4 and all("address local" in line for line in refused)
    assert all("\n" not in line and "guess" not in line for line in refused)

    # A new session from the same address (a script that drops its session) waits too.
    other = new_session()
    assert _enter(other, TOKEN)[0].startswith("Too many wrong tokens")

    admin.now += 1  # the wait is over: the right token works, and clears the count
    assert _enter(at, TOKEN) == []
    assert at.session_state[ADMIN] and any("You manage every run" in c.value for c in at.caption)


def test_an_entry_is_checked_once_not_on_every_rerun(admin):
    at = new_session()
    for _ in range(3):
        _enter(at, "guess")
    at.run()  # anything else the visitor does reruns the page
    at.run()
    assert at.text_input(key="admin_token_input").value == ""  # the entry is not kept
    assert identity.admin_throttle().failures("address:local") == 3


def test_a_short_admin_token_stops_the_app_with_the_reason(env, monkeypatch, caplog):
    monkeypatch.setenv("MNIST_STUDIO_ADMIN_TOKEN", "hunter2")
    with caplog.at_level(logging.ERROR, logger="mnist_studio"):
        at = new_session()
    assert not at.title  # no page
    message, = [e.value for e in at.error]
    assert message.startswith("**MNIST Studio will not run with this server's settings.**")
    assert "has 7 characters; it needs at least 16" in message and "hunter2" not in message
    at.run()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and logged[0].startswith("MNIST Studio will not run")
    monkeypatch.delenv("MNIST_STUDIO_ADMIN_TOKEN")  # the fixture's clean-up reads the settings


def test_a_short_token_in_secrets_toml_stops_the_app_too(env):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["admin_token"] = "short"
    at.run()
    assert not at.title
    assert any("secrets.toml's admin_token) has 5 characters" in e.value for e in at.error)


@pytest.mark.parametrize("https", [False, True])
def test_the_new_visitor_cookie_is_secure_over_https(env, monkeypatch, https):
    monkeypatch.setattr(identity, "request_is_https", lambda: https)
    at = new_session()
    script, = [h.proto.body for h in at.html if COOKIE in h.proto.body]
    assert "SameSite=Lax" in script
    assert ("; Secure" in script) is https
