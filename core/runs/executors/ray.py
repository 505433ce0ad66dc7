"""The Ray executor: training runs as Ray tasks on a cluster, recorded in the same store
as local runs.

The scheduler process is the Ray driver (its main thread called ray.init, so
Ray's signal handlers work). Each run is a streaming task: it trains on
whichever node Ray picks (one GPU when the run asks for CUDA), and yields
its recorder calls in batches at least 4 times a second. A scheduler thread
replays them on a RunRecorder, so progress, Stop, Resume and the best
checkpoint land in the same store and run folder as a local run's.

Stop travels through a small named actor that the task polls; the run then
ends after its current step and sends its last.pt back, resumable.
The project's code reaches the nodes as the job's working_dir; the nodes
need the same Python packages (requirements.txt) and the data (MNIST_STUDIO_DATA
on each node, or a download).
"""
from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from pathlib import Path

import ray

from core.machine.paths import ROOT
from core.runs.database import RunDatabase, RunRecord
from core.runs.job import RunRecorder, execute, polled
from core.server.settings import RunSettings
from core.train.finetune import SET_FILE

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never report usage, before ray loads

BOARD_NAME = "mnist-studio-stop-board"
# gitignore syntax: anchored with "/", or "data" would also drop core/data/.
EXCLUDES = ["/.git", "/.venv", "/runs", "/weights", "/data", "/.cache", "/test-output", "/docs",
            "*.pt", "*.sqlite*"]
SEND_SECONDS = 0.25
CAPACITY_SECONDS = 10.0


def forwarded_environment() -> dict[str, str]:
    """The project's settings travel to the tasks: Ray starts its workers with the
    raylet's environment, not the driver's."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MNIST_STUDIO_")}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0"}


class MessageRecorder:
    """A recorder inside a Ray task: each call becomes a message for the scheduler."""

    def __init__(self, run_dir: Path, node: str) -> None:
        self.run_dir, self.node, self.out = run_dir, node, queue.Queue()

    def _send_file(self, name: str) -> None:
        path = self.run_dir / name
        if path.exists():
            self.out.put(("file", (name, path.read_bytes())))

    def placed(self, node: str, device: str) -> None:
        self.out.put(("placed", (f"{node} ({self.node})", device)))

    def events(self, steps, epochs, total_steps) -> None:
        self.out.put(("events", (steps, epochs, total_steps)))

    def stopped(self) -> None:
        # Said at once; the files follow with done() (a run is resumable only then).
        self.out.put(("stopped", ()))

    def phase(self, name: str) -> None:
        self.out.put(("phase", (name,)))

    def file(self, name: str, data: bytes) -> None:
        self.out.put(("file", (name, data)))

    def done(self, summary: dict, test: dict, stopped: bool) -> None:
        self._send_file("best.pt")
        if stopped:
            self._send_file("last.pt")  # before done: Resume needs it
        self.out.put(("done", (summary, test, stopped)))

    def failed(self, message: str) -> None:
        self._send_file("best.pt")
        self._send_file("last.pt")
        self.out.put(("failed", (message,)))


BASE_FILE = "finetune-base.pt"  # a fine-tune's base checkpoint, in the task's run folder


def run_inputs(record: RunRecord) -> dict[str, bytes]:
    """The files a run reads besides the dataset, which a node of the cluster may not
    have: a fine-tune's set (in its run folder) and its base checkpoint."""
    entry = record.config.get("finetune")
    if not entry:
        return {}
    set_name = entry.get("set", SET_FILE)
    return {set_name: (Path(record.run_dir) / set_name).read_bytes(),
            BASE_FILE: Path(entry["base"]).read_bytes()}


def placed_inputs(config: dict, inputs: dict[str, bytes], run_dir: Path) -> dict:
    """Write the run's inputs into the task's run folder; the config, pointing at them."""
    for name, data in inputs.items():
        (run_dir / Path(name).name).write_bytes(data)
    if BASE_FILE in inputs and config.get("finetune"):
        config = {**config, "finetune": {**config["finetune"], "base": str(run_dir / BASE_FILE)}}
    return config


def _remote_functions():
    @ray.remote(num_cpus=0)
    class StopBoard:
        def __init__(self) -> None:
            self.stopped: set[str] = set()

        def stop(self, run_id: str) -> None:
            self.stopped.add(run_id)

        def clear(self, run_id: str) -> None:
            self.stopped.discard(run_id)

        def is_stopped(self, run_id: str) -> bool:
            return run_id in self.stopped

    @ray.remote(num_returns="streaming", max_retries=0)
    def train_task(run_id: str, config: dict, resume: bytes | None, board,
                   inputs: dict[str, bytes] | None = None):
        node = ray.get_runtime_context().get_node_id()[:8]
        run_dir = Path(tempfile.mkdtemp(prefix="mnist-studio-")) / run_id
        run_dir.mkdir(parents=True)
        config = placed_inputs(config, inputs or {}, run_dir)
        resume_from = None
        if resume is not None:
            resume_from = str(run_dir / "resume.pt")
            Path(resume_from).write_bytes(resume)
        recorder = MessageRecorder(run_dir, node)
        should_stop = polled(lambda: ray.get(board.is_stopped.remote(run_id)))
        worker = threading.Thread(target=execute, daemon=True,
                                  args=(run_id, config, run_dir, recorder, should_stop, resume_from))
        worker.start()
        while worker.is_alive() or not recorder.out.empty():
            try:
                batch = [recorder.out.get(timeout=SEND_SECONDS)]
            except queue.Empty:
                continue
            while not recorder.out.empty():
                batch.append(recorder.out.get_nowait())
            yield batch

    return StopBoard, train_task


class RayExecutor:
    name = "ray"

    def __init__(self, store: RunDatabase, settings: RunSettings) -> None:
        self.ray, self.store, self.settings = ray, store, settings
        ray.init(address=settings.ray_address or "auto", include_dashboard=False,
                 log_to_driver=False, configure_logging=False,
                 runtime_env={"working_dir": str(ROOT), "excludes": EXCLUDES,
                              "env_vars": forwarded_environment()})
        StopBoard, self.train_task = _remote_functions()
        self.board = StopBoard.options(name=BOARD_NAME, get_if_exists=True).remote()
        self.threads: dict[str, threading.Thread] = {}
        self.stop_sent: set[str] = set()
        self._capacity, self._capacity_until = 1, 0.0

    def capacity(self) -> int:
        """Runs at once: the workers setting, else one per CPU of the cluster (at least 1).
        The cluster is asked at most every CAPACITY_SECONDS, not at every poll of the
        scheduler (10 a second): nodes come and go on that scale, and each ask is a call."""
        if self.settings.workers:
            return self.settings.workers
        now = time.monotonic()
        if now >= self._capacity_until:
            self._capacity = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
            self._capacity_until = now + CAPACITY_SECONDS
        return self._capacity

    def free_slots(self) -> int:
        return self.capacity() - len(self.threads)

    def start(self, record: RunRecord) -> None:
        wants_gpu = record.config.get("device") == "cuda" or (
            record.config.get("device") == "auto" and self.ray.cluster_resources().get("GPU", 0) > 0)
        resume = Path(record.resume_from).read_bytes() if record.resume_from else None
        self.ray.get(self.board.clear.remote(record.id))
        stream = self.train_task.options(num_gpus=1 if wants_gpu else 0, num_cpus=1).remote(
            record.id, record.config, resume, self.board, run_inputs(record))
        thread = threading.Thread(target=self._relay, args=(record, stream), daemon=True,
                                  name=f"ray-{record.id}")
        self.threads[record.id] = thread
        thread.start()

    def _relay(self, record: RunRecord, stream) -> None:
        recorder = RunRecorder(self.store, record.id, record.run_dir)
        self.store.update(record.id, executor="ray")
        try:
            for ref in stream:
                for method, args in self.ray.get(ref):
                    getattr(recorder, method)(*args)
            message = "the Ray task ended without reporting a result (see the Ray worker logs)"
        except Exception as err:  # the task or its node died
            message = f"the Ray task failed: {type(err).__name__}: {err}"
        finally:
            recorder.close()
        # Unless the run recorded its end (and was perhaps resumed since: a new claim).
        self.store.fail_unfinished(record.id, record.started_at, message)

    def poll(self) -> None:
        for run_id, thread in list(self.threads.items()):
            if not thread.is_alive():
                del self.threads[run_id]
                self.stop_sent.discard(run_id)
            elif run_id not in self.stop_sent and self.store.stop_requested(run_id):
                self.board.stop.remote(run_id)
                self.stop_sent.add(run_id)

    def shutdown(self) -> None:
        for run_id in list(self.threads):
            self.board.stop.remote(run_id)
        for thread in self.threads.values():
            thread.join(timeout=60)
        self.ray.shutdown()
