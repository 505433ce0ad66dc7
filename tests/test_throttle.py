"""Guessing the admin token: the throttle on failed attempts (core/server/throttle.py), the
minimum length of a configured token, and the visitor cookie's attributes over HTTPS."""
from __future__ import annotations

import threading

import pytest

from core.server.settings import (MIN_ADMIN_TOKEN_CHARS, SettingsError, check_admin_token,
                                  load_settings)
from core.server.throttle import FORGET_AFTER, AttemptThrottle, delay_after
from core.server.visitors import cookie_attributes, over_https


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_delay_grows_after_the_free_failures_up_to_a_cap():
    assert [delay_after(n) for n in range(1, 8)] == [0, 0, 0, 1, 2, 4, 8]
    assert delay_after(100) == delay_after(10_000) == 600


def test_a_session_waits_after_its_free_failures_and_a_success_clears_it():
    clock = Clock()
    throttle = AttemptThrottle(clock=clock)
    keys = ["session:a", "address:1.2.3.4"]
    for _ in range(3):
        assert throttle.wait_seconds(keys) == 0
        throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 0  # three typos: no wait yet
    throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 1
    clock.now += 1
    assert throttle.wait_seconds(keys) == 0
    throttle.failed(keys)
    assert throttle.wait_seconds(keys) == 2
    throttle.succeeded(keys)
    assert throttle.wait_seconds(keys) == 0 and throttle.failures("address:1.2.3.4") == 0


def test_a_new_session_from_the_same_address_still_waits_and_another_address_does_not():
    clock = Clock()
    throttle = AttemptThrottle(clock=clock)
    for n in range(6):  # a script that opens a new session for every try
        throttle.failed([f"session:{n}", "address:1.2.3.4"])
    assert throttle.wait_seconds(["session:new", "address:1.2.3.4"]) == 4
    assert throttle.wait_seconds(["session:new", "address:5.6.7.8"]) == 0
    # One session that tries from behind many addresses is held back by its session key.
    for n in range(6):
        throttle.failed(["session:roaming", f"address:10.0.0.{n}"])
    assert throttle.wait_seconds(["session:roaming", "address:10.0.0.99"]) == 4


def test_a_guesser_gets_a_handful_of_tries_an_hour_not_thousands():
    clock = Clock()
    throttle = AttemptThrottle(clock=clock)
    keys = ["session:bot", "address:6.6.6.6"]

    def tries_within(seconds: float) -> int:
        end, tries = clock.now + seconds, 0
        while True:
            clock.now += throttle.wait_seconds(keys)  # tries the moment it may
            if clock.now >= end:
                return tries
            throttle.failed(keys)
            tries += 1

    assert tries_within(3600) == 18  # 14 in the first 17 minutes, then one per 10 minutes
    assert tries_within(3600) == 6


def test_a_key_is_forgotten_an_hour_after_its_last_failure():
    clock = Clock()
    throttle = AttemptThrottle(clock=clock)
    for _ in range(5):
        throttle.failed(["address:1.2.3.4"])
    clock.now += FORGET_AFTER
    assert throttle.wait_seconds(["address:1.2.3.4"]) == 0
    assert throttle.failures("address:1.2.3.4") == 0  # and its record is gone


def test_sessions_failing_at_once_are_all_counted():
    throttle = AttemptThrottle()
    threads = [threading.Thread(target=lambda: [throttle.failed(["address:x"]) for _ in range(50)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert throttle.failures("address:x") == 400


@pytest.mark.parametrize("token, ok", [("", True), ("a" * MIN_ADMIN_TOKEN_CHARS, True),
                                       ("a" * (MIN_ADMIN_TOKEN_CHARS - 1), False),
                                       ("hunter2", False)])
def test_a_configured_admin_token_needs_16_characters(tmp_path, monkeypatch, token, ok):
    monkeypatch.setenv("MNIST_STUDIO_ADMIN_TOKEN", token)
    if ok:
        assert load_settings(tmp_path / "none.toml").admin_token == token
        return
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path / "none.toml")
    message = str(err.value)
    assert f"has {len(token)} characters; it needs at least 16" in message
    assert "MNIST_STUDIO_ADMIN_TOKEN" in message and "secrets.token_urlsafe" in message
    assert token not in message  # the token itself is never shown
    with pytest.raises(SettingsError, match="secrets.toml"):
        check_admin_token(token, ".streamlit/secrets.toml's admin_token")


@pytest.mark.parametrize("url, proto, https", [
    ("http://127.0.0.1:8501/", [], False),
    ("https://studio.example.org/train", [], True),
    ("http://10.0.0.5:8501/", ["https"], True),  # TLS ends at the proxy
    ("http://10.0.0.5:8501/", ["HTTPS, http"], True),  # the first hop is the client's
    ("http://10.0.0.5:8501/", ["http"], False),
    (None, [], False),
])
def test_the_cookie_is_secure_over_https_only(url, proto, https):
    assert over_https(url, proto) is https
    attributes = cookie_attributes(3600, secure=https)
    assert attributes.startswith("path=/; max-age=3600; SameSite=Lax")
    assert attributes.endswith("; Secure") is https
