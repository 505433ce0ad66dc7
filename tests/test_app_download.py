"""The app offers the data download on every page that needs data (AppTest)."""
from __future__ import annotations

import pytest

import core.data.download as dl
from tests.apptest import new_session, no_exception


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(dl.socket, "create_connection", refuse)


@pytest.mark.parametrize("page", ["evaluate", "mistakes", "explore"])
def test_missing_data_offers_the_download_and_offline_says_so(env, monkeypatch, tmp_path,  # noqa: F811
                                                               offline, page):
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(tmp_path / "no-data"))
    at = new_session(page)
    assert any("dataset is not available" in e.value for e in at.error), page
    buttons = [b for b in at.button if b.label == "Download MNIST digits"]
    assert buttons, [b.label for b in at.button]
    buttons[0].click().run()
    no_exception(at)
    failed = [e.value for e in at.error if "download failed" in e.value]
    assert failed and "no network" in failed[0] and "not found under" in failed[0]
    assert not (tmp_path / "no-data").exists()
