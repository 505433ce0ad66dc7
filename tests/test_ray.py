"""Training on a Ray cluster: a real one-node cluster this test starts, and stops, by itself.

Skipped when ray is not installed, or with MNIST_STUDIO_SKIP_RAY=1 (if Ray misbehaves on
a machine); CI runs it. The cluster has its own ports and temp dir, so a cluster already
running on the machine is neither used nor touched (no global `ray stop`).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench.procs import wait_gone, with_command, with_environment

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(os.environ.get("MNIST_STUDIO_SKIP_RAY") == "1",
                                reason="MNIST_STUDIO_SKIP_RAY=1")

from core.server.settings import load_settings  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402
from core.runs.api import RunService  # noqa: E402
from core.runs.state import RunState  # noqa: E402
from core.data.imageset import ImageSet  # noqa: E402
from core.runs.finetune import submit_finetune  # noqa: E402
from core.train.finetune import FinetuneOptions, read_measure  # noqa: E402
from core.server.visitors import Viewer  # noqa: E402
from tests.test_finetune import writer  # noqa: E402

MARK = "MNIST_STUDIO_TEST_RAY_CLUSTER"  # in the environment of every process of the cluster
# Ray turns "--node-ip-address 127.0.0.1" into this machine's routable address unless its
# cluster mode is off (ray._private.services.get_node_ip_address): the test's cluster, its
# driver and its workers then talk over the loopback only.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@pytest.fixture()
def ray_cluster():
    """The address of a one-node, two-CPU Ray cluster, stopped by its own pids afterwards."""
    temp = Path(f"/tmp/rt-{uuid.uuid4().hex[:8]}")  # short: Ray's socket paths max 107 chars
    port = free_port()
    ray = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", MARK: str(temp), **LOOPBACK}
    command = [str(ray), "start", "--head", "--node-ip-address", "127.0.0.1",
               "--port", str(port), "--disable-usage-stats", "--num-cpus", "2",
               "--include-dashboard", "false", "--temp-dir", str(temp),
               # Away from the defaults, which a cluster already running here would hold.
               "--ray-client-server-port", str(free_port()),
               "--dashboard-agent-listen-port", str(free_port()),
               "--object-store-memory", str(200 * 2**20)]
    ours = lambda: with_environment(MARK, str(temp))  # noqa: E731
    try:
        started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
        if started.returncode != 0:
            pytest.fail(f"ray start failed:\n{started.stdout}\n{started.stderr}")
        yield f"127.0.0.1:{port}"
    finally:
        kill_all(ours(), signal.SIGTERM)
        if wait_gone(ours, 3):  # the GCS server and a few helpers ignore a SIGTERM
            kill_all(ours(), signal.SIGKILL)
        left = wait_gone(ours, 10)
        shutil.rmtree(temp, ignore_errors=True)
        assert left == [], f"Ray processes left running: {left}"


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32,
                                 lr=3e-3, device="cpu"), **kw})


def test_two_visitors_train_at_once_on_ray_one_stops_and_a_finetune_runs(ray_cluster, tmp_path, fake_data_root,
                                                        monkeypatch):
    t0 = time.monotonic()
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    for name, value in LOOPBACK.items():  # the driver (the scheduler process) too
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MNIST_STUDIO_DATA", str(fake_data_root))  # forwarded to the tasks
    for name in ("MNIST_STUDIO_EXECUTOR", "MNIST_STUDIO_WORKERS", "MNIST_STUDIO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path / "no-studio.toml")
    assert settings.uses_ray and settings.ray_address == ray_cluster
    runs = tmp_path / "runs"
    service = RunService(runs, settings)
    a, b = Viewer("v:alice"), Viewer("v:bob")
    try:
        short = service.submit(cfg(), a)
        long = service.submit(cfg(epochs=200), b)
        service.wait(long.id, b, until=lambda r: r.step >= 30, timeout=90, poll=0.1)
        assert service.get(short.id, a).state in (RunState.RUNNING, RunState.FINISHED)
        service.stop(long.id, b)
        done = service.wait(short.id, a, timeout=60)
        stopped = service.wait(long.id, b, timeout=60)
        # A fine-tune on the cluster: its set and base checkpoint travel with the task
        # (a node need not share this machine's files), its measure comes back.
        images, labels = writer(per_class=4, seed=3)
        tuned = submit_finetune(service, a, ImageSet(images, labels), done.best_checkpoint,
                                "base", options=FinetuneOptions(lr=3e-3, epochs=1, device="cpu"))
        tuned = service.wait(tuned.id, a, timeout=90)
    finally:
        service.shutdown()
    print(f"\nRay test: {time.monotonic() - t0:.1f} s after the cluster started")

    assert done.state == RunState.FINISHED and done.error is None, done.error
    assert 0.0 <= done.test.accuracy <= 1.0 and done.step == done.total_steps == 26
    assert service.steps(short.id, a, 1000).step == list(range(1, 27))
    assert done.best_checkpoint is not None and not done.last_checkpoint.exists()

    assert stopped.state == RunState.CANCELLED and stopped.error is None, stopped.error
    assert 30 <= stopped.step < stopped.total_steps and stopped.test is not None
    assert stopped.resumable  # last.pt came back from the task
    assert stopped.best_checkpoint is not None and stopped.last_checkpoint.stat().st_size > 0
    assert service.steps(long.id, b, 10**6).step == list(range(1, stopped.step + 1))

    assert tuned.state == RunState.FINISHED and tuned.error is None, tuned.error
    measure = read_measure(tuned.run_dir)
    assert measure is not None and (measure.train_count, measure.held_out_count) == (20, 20)
    for run in (done, stopped, tuned):
        assert run.executor == "ray" and run.node and run.device
        assert any(Path(run.run_dir).glob("events.out.tfevents.*"))  # written by the scheduler
    # Both trained at once: each started before the other ended.
    assert done.started_at < stopped.finished_at and stopped.started_at < done.finished_at
    assert wait_gone(lambda: with_command(f"core.runs.scheduler --runs {runs}")) == []


def test_a_finetunes_inputs_travel_with_its_task(tmp_path):
    """Without a cluster: what the executor sends and how the task places it."""
    from core.runs.executors.ray import BASE_FILE, placed_inputs, run_inputs
    from core.runs.database import RunRecord
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "finetune-set.npz").write_bytes(b"set")
    base = tmp_path / "base.pt"
    base.write_bytes(b"weights")
    config = {"model": "cnn", "finetune": {"base": str(base), "set": "finetune-set.npz"}}
    record = RunRecord(id="r1", owner="v:a", created=0.0, config=config, state=RunState.QUEUED,
                       run_dir=str(run_dir))
    inputs = run_inputs(record)
    assert inputs == {"finetune-set.npz": b"set", BASE_FILE: b"weights"}
    task_dir = tmp_path / "node" / "r1"
    task_dir.mkdir(parents=True)
    placed = placed_inputs(config, inputs, task_dir)
    assert placed["finetune"]["base"] == str(task_dir / BASE_FILE)
    assert (task_dir / "finetune-set.npz").read_bytes() == b"set"
    assert config["finetune"]["base"] == str(base)  # the record's own config is untouched
    plain = RunRecord(id="r2", owner="v:a", created=0.0, config={"model": "cnn"},
                      state=RunState.QUEUED, run_dir=str(run_dir))
    assert run_inputs(plain) == {} and placed_inputs({"model": "cnn"}, {}, task_dir) == {"model": "cnn"}
