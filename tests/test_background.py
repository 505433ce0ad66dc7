"""Background tasks (core/machine/background.py): one per key, their progress, their result
or error; and the progress the attack and the embedding map report to them."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.data import Split
from core.evaluate.embedding import penultimate_features
from core.evaluate.robust import robust_accuracy
from core.machine.background import BackgroundTasks
from core.networks.models import build_model


def test_a_task_reports_progress_and_keeps_its_result():
    tasks, go = BackgroundTasks(), threading.Event()

    def work(progress):
        progress(30, 100)
        go.wait(10)
        progress(100, 100)
        return "map"

    task = tasks.start("k", work, total=100)
    for _ in range(100):
        if task.done == 30:
            break
        threading.Event().wait(0.01)
    assert task.running and task.done == 30 and task.fraction == 0.3
    assert not task.wait(0.05)  # still running
    go.set()
    assert task.wait(10) and task.result == "map" and task.fraction == 1.0


def test_the_same_key_gets_the_same_task_and_never_runs_twice():
    tasks, go, runs = BackgroundTasks(), threading.Event(), []

    def work(progress):
        runs.append(1)
        go.wait(10)
        return len(runs)

    first = tasks.start("k", work, 10)
    assert tasks.start("k", work, 10) is first and tasks.get("k") is first  # another session
    go.set()
    assert first.wait(10)
    assert tasks.start("k", work, 10) is first and runs == [1]  # done: kept, not redone
    assert tasks.get("other") is None


def test_a_failed_task_keeps_its_error_and_a_new_start_tries_again():
    tasks, calls = BackgroundTasks(), []

    def work(progress):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return "ok"

    failed = tasks.start("k", work, 1)
    assert not failed.wait(10) and str(failed.error) == "out of memory" and not failed.running
    again = tasks.start("k", work, 1)
    assert again is not failed and again.wait(10) and again.result == "ok"


def test_only_the_newest_finished_tasks_are_kept():
    tasks = BackgroundTasks(keep=2)
    for n in range(4):
        assert tasks.start(f"k{n}", lambda progress: n, 1).wait(10)
    assert [tasks.get(f"k{n}") is not None for n in range(4)] == [False, False, True, True]


@pytest.fixture
def split() -> Split:
    g = torch.Generator().manual_seed(0)
    return Split(torch.randint(0, 256, (250, 28, 28), dtype=torch.uint8, generator=g),
                 torch.randint(0, 10, (250,), generator=g))


def test_the_attack_and_the_map_count_the_images_done(split):
    model = build_model("ffnn-small")
    seen = []
    robust_accuracy(model, split, 0.13, 0.31, 0.1, steps=2, samples=250, batch_size=100,
                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]
    seen.clear()
    features = penultimate_features(model, split, 0.13, 0.31, batch_size=100,
                                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)] and features.shape[0] == 250
    assert np.isfinite(features).all()
