"""The load test (bench/loadtest.py), small: four visitors on the fake data, bounded in time."""
from __future__ import annotations

import os

from bench.loadtest import LoadSettings, format_report, refusal_expected, run_loadtest


def test_a_refusal_at_the_limit_is_expected_even_if_a_run_ends_right_after():
    assert refusal_expected(2, 1, 2, "quota")  # a run ended after the refusal: still right
    assert refusal_expected(2, 2, 2, "quota")
    assert not refusal_expected(1, 1, 2, "quota")  # under the limit: a refusal is a fault
    assert refusal_expected(2, 3, 2, "started")  # over the limit, started: counted, a fault
    assert not refusal_expected(2, 2, 2, "started")  # a run ended first: starting was right


def test_four_visitors_lose_nothing_and_the_limits_hold(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_MAX_QUEUE", "2")  # small enough for four visitors to fill
    monkeypatch.delenv("MNIST_STUDIO_WORKERS", raising=False)
    runs_before = os.environ.get("MNIST_STUDIO_RUNS")
    # Runs of 5 epochs of 6,000 images (about half a second each alone): long enough that a
    # visitor's two runs are still active when the third Start comes. With 1 epoch, the
    # faster trainer (ffnn-small at ~50,000 samples/s) finished both first, no Start met
    # the limit, and the limit went untested.
    report = run_loadtest(LoadSettings(visitors=4, seconds=45, train_samples=6000, epochs=5))
    print(format_report(report))
    assert report["completed"]  # every visitor's runs ended within the time bound
    assert report["runs_lost"] == 0
    assert report["impossible_states"] == 0, report["impossible_details"]
    assert report["page_errors"] == 0, report["page_error_details"]
    assert report["runs_failed"] == 0, report["failures"]
    assert report["other_refusals"] == []
    # A visitor trying a third Start while two of theirs are active is refused (expected:
    # the tries made at the limit; a try made after one of the two ended is not refused).
    quota = report["quota_refusals"]
    assert quota["seen"] == quota["expected"] >= 1
    assert report["most_queued"] <= 2 and report["most_training_at_once"] <= 1
    # 4 visitors, 2 with a second run (and a third if it was not refused); a Start refused
    # for the full queue was tried again until it was accepted.
    assert report["runs_submitted"] == 6 + report["over_quota_starts"].get("started", 0)
    assert report["stops_pressed"] == 1 and report["runs_stopped"] == 1
    assert report["leftover_processes"] == []
    assert os.environ.get("MNIST_STUDIO_RUNS") == runs_before  # the environment is restored
