"""The device a run's page shows is the one the worker trains with, threads included."""
from dataclasses import asdict

import pytest
import torch

from core.machine.device import describe_device
from core.runs import job
from core.train.config import TrainConfig


class Recorder:
    def __init__(self):
        self.device, self.summary, self.failure = None, None, None

    def placed(self, node, device): self.device = device
    def events(self, steps, epochs, total_steps): pass
    def stopped(self): pass
    def phase(self, name): pass
    def file(self, name, data): pass
    def done(self, summary, test, stopped): self.summary = summary
    def failed(self, message): self.failure = message


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_placed_device_names_the_threads_training_uses(fake_data_root, tmp_path, monkeypatch, restore_threads):
    # Regression: the worker described the device before setting its threads, so a
    # local worker limited to 1 thread (MNIST_STUDIO_THREADS, set by the local
    # executor on a 2-core machine) was shown as "CPU (2 threads)".
    torch.set_num_threads(2)
    monkeypatch.setenv("MNIST_STUDIO_THREADS", "1")
    cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=1, batch_size=64, device="cpu",
                      seed=0, data_dir=str(fake_data_root))
    rec = Recorder()
    job.execute("r1", asdict(cfg), tmp_path / "r1", rec, lambda: False)
    assert rec.failure is None
    assert rec.device == "CPU (1 thread)"
    assert rec.summary["device"] == rec.device


def test_one_thread_is_singular(restore_threads):
    torch.set_num_threads(1)
    assert describe_device(torch.device("cpu")) == "CPU (1 thread)"
