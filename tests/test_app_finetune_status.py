"""Your handwriting's fine-tune status: the header and the bar say what the run does now
(queued, loading, training step n of N, scoring), drawn together by the live fragment.

The run is driven by hand through the run store (no worker: the app's service is one
without a scheduler), so each phase can be looked at for as long as the test needs."""
from __future__ import annotations

import pytest

import ui.common.loaders as loaders
from core.data.handwriting import HandwritingSet
from core.runs.api import RunService
from core.runs.finetune import submit_finetune
from core.runs.state import RunState
from core.server.settings import load_settings
from core.server.visitors import Viewer
from core.train.finetune import FinetuneOptions
from tests.apptest import new_session, no_exception
from tests.test_finetune import writer
from ui.handwriting.tune import status

PAGE = "pages/handwriting.py"
ALICE = "v:alice"


@pytest.fixture
def service(env, monkeypatch) -> RunService:
    svc = RunService(env["runs"], load_settings(env["runs"] / "none.toml"), start_scheduler=False)
    monkeypatch.setattr(loaders, "get_service", lambda *args: svc)
    return svc


def _page():
    at = new_session(visitor=ALICE)
    at.switch_page(PAGE).run()
    no_exception(at)
    header = [m.value for m in at.markdown if m.value.startswith("**Fine-tune run**")]
    bar, = at.progress
    return header, bar


def _submitted(env, service, weights, seed: int):
    """Alice's fine-tune of the shipped ffnn-small on 2 drawings per class, queued."""
    hw = HandwritingSet(env["runs"], ALICE)
    images, labels = writer(per_class=2, seed=seed)
    for image, label in zip(images, labels):
        hw.add(image, int(label))
    return submit_finetune(service, Viewer(ALICE), hw.arrays(), weights / "mnist-ffnn-small.pt",
                           "base", options=FinetuneOptions(device="cpu"))


def test_the_header_and_the_bar_follow_the_run(env, service, weights):
    snap = _submitted(env, service, weights, seed=7)

    (header,), bar = _page()
    assert header.endswith(":gray[Queued]") and bar.text.startswith("Queued (position 1)")

    service.db.claim_next("test-runner", "local")  # a worker took it: loading data and model
    (header,), bar = _page()
    assert header.endswith(":blue[Loading]"), header
    assert bar.text.startswith("Loading the data") and "0/0" not in bar.text and bar.value == 0

    step = dict(epoch=1, step=5, loss=0.5, lr=3e-4, samples_per_second=900.0, elapsed=1.0)
    service.db.add_metrics(snap.id, [step], [], total_steps=17)
    (header,), bar = _page()
    assert header.endswith(":blue[Training]") and bar.text == "Training · step 5 of 17"
    assert bar.value == round(100 * 5 / 17)

    service.db.update(snap.id, phase="scoring")
    (header,), bar = _page()
    assert header.endswith(":blue[Scoring]") and bar.text.startswith("Scoring") and bar.value == 100

    service.db.transition(snap.id, RunState.FINISHED, [RunState.RUNNING], phase=None)
    at = new_session(visitor=ALICE)
    at.switch_page(PAGE).run()
    assert not at.progress
    assert any(m.value.endswith(":green[Finished]") for m in at.markdown)


def test_a_stop_says_stopping(env, service, weights):
    snap = _submitted(env, service, weights, seed=8)
    service.db.claim_next("test-runner", "local")
    service.db.request_stop(snap.id)
    now = status(service.get(snap.id, Viewer(ALICE), metrics=False))
    assert (now.badge, now.text) == ("Stopping", "Stopping after the current step…")
