"""Limits keyed on the client address, not only the cookie.

A script that drops its cookie becomes a new visitor each time; with the limits
per address on, its address gets max_new_visitors_per_address new ids an hour
and then one shared id, and its runs count against the address's cap whatever
id it has. The address is the connection's, or X-Forwarded-For's hop behind the
configured number of trusted proxies. AppTest has no client connection, so the
tests patch ui.common.identity.request_origin (what st.context gives).
"""
from __future__ import annotations

import pytest

import ui.common.identity as identity
from core.server.visitors import LOCAL, address_visitor, client_address
from tests.apptest import ADMIN, new_session, fill_train_form, no_exception
from ui.common.identity import ADDRESS, SHARED_ID, VISITOR


def test_the_client_is_the_hop_before_the_trusted_proxies():
    assert client_address("198.51.100.7", [], 0) == "198.51.100.7"
    assert client_address(None, [], 0) == LOCAL  # Streamlit names no address for 127.0.0.1
    # A client may send any X-Forwarded-For: without trusted proxies it is ignored ...
    assert client_address("198.51.100.7", ["10.6.6.6"], 0) == "198.51.100.7"
    # ... and behind one proxy only the hop that proxy appended counts, not the forged one.
    assert client_address("127.0.0.1", ["10.6.6.6", "203.0.113.9"], 1) == "203.0.113.9"
    assert client_address("127.0.0.1", ["10.6.6.6", "203.0.113.9", "192.0.2.1"], 2) == "203.0.113.9"
    # Fewer hops than proxies: the request did not come through them.
    assert client_address("198.51.100.7", [], 1) == "198.51.100.7"


def test_the_shared_id_is_one_per_address_and_not_a_cookie():
    from core.server.visitors import verify_token
    a, b = address_visitor(b"k", "203.0.113.9"), address_visitor(b"k", "203.0.113.10")
    assert a == address_visitor(b"k", "203.0.113.9") and a != b and a.startswith("v:addr-")
    assert verify_token(b"k", a) is None and verify_token(b"k", a + ".x") is None


@pytest.fixture
def from_address(monkeypatch):
    """Sessions opened from a given address (as st.context would report it)."""
    where = {"address": "203.0.113.9", "forwarded": []}
    monkeypatch.setattr(identity, "request_origin", lambda: (where["address"], where["forwarded"]))
    return where


def test_an_address_gets_its_new_ids_then_one_shared_id(env, monkeypatch, from_address):
    monkeypatch.setenv("MNIST_STUDIO_MAX_NEW_VISITORS", "2")
    first, second, third, fourth = (new_session() for _ in range(4))
    ids = [at.session_state[VISITOR] for at in (first, second, third, fourth)]
    assert len({ids[0], ids[1]}) == 2 and not ids[0].startswith("v:addr-")
    assert ids[2] == ids[3] == address_visitor(
        (env["runs"] / ".visitor-secret").read_bytes(), "203.0.113.9")
    assert [i.value for i in third.info if i.value == SHARED_ID]  # it is told why
    assert not [i.value for i in first.info if i.value == SHARED_ID]
    from_address["address"] = "198.51.100.20"  # another address still gets its own
    other = new_session()
    assert other.session_state[VISITOR] not in ids and other.session_state[ADDRESS] == "198.51.100.20"


def test_new_ids_are_not_limited_by_default(env, from_address):
    ids = {new_session().session_state[VISITOR] for _ in range(4)}
    assert len(ids) == 4 and not any(i.startswith("v:addr-") for i in ids)


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_address(env, monkeypatch,
                                                                     from_address):
    monkeypatch.setenv("MNIST_STUDIO_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("MNIST_STUDIO_MAX_NEW_VISITORS", "1")
    from_address.update(address=None, forwarded=["10.6.6.6", "203.0.113.50"])
    at = new_session()
    assert at.session_state[ADDRESS] == "203.0.113.50"
    from_address["forwarded"] = ["10.7.7.7", "203.0.113.50"]  # a new forged hop changes nothing
    assert new_session().session_state[VISITOR].startswith("v:addr-")
    from_address["forwarded"] = ["203.0.113.51"]
    assert not new_session().session_state[VISITOR].startswith("v:addr-")


def test_a_visitor_without_the_cookie_cannot_queue_more_than_the_address_cap(
        env, monkeypatch, from_address):
    """Two ids from one address (a dropped cookie): the second is refused past the cap."""
    from core.runs.api import get_service
    monkeypatch.setenv("MNIST_STUDIO_MAX_ACTIVE", "2")
    monkeypatch.setenv("MNIST_STUDIO_MAX_ACTIVE_PER_ADDRESS", "2")
    monkeypatch.setenv("MNIST_STUDIO_MAX_QUEUE", "8")
    first = new_session("train")
    for seed in (1, 2):
        fill_train_form(first, epochs=200)
        first.number_input(key="train_seed").set_value(seed)
        first.button(key="train_start").click().run()
        no_exception(first)
    second = new_session("train")  # no cookie: a new visitor, from the same address
    assert second.session_state[VISITOR] != first.session_state[VISITOR]
    fill_train_form(second, epochs=200)
    second.button(key="train_start").click().run()
    no_exception(second)
    refusals = [e.value for e in second.error if "Not started" in e.value]
    assert refusals and "2 runs from your network address are queued or training; the limit " \
        "is 2 per address" in refusals[0], [e.value for e in second.error]
    runs = get_service().list_runs(ADMIN)
    assert len(runs) == 2 and {r.owner for r in runs} == {first.session_state[VISITOR]}


def test_without_a_client_connection_the_address_is_local(env):
    """AppTest (like bare mode) has no client: st.context gives stand-ins, not strings,
    which once reached the database as the run's address. They count as this machine."""
    at = new_session()
    assert at.session_state[ADDRESS] == LOCAL
