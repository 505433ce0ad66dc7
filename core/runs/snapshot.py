"""RunSnapshot: one training run as the pages read it (states, settings, metrics, results)."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.evaluate.metrics import EvalSummary
from core.runs.state import RunFolder, RunState
from core.train.config import TrainConfig
from core.train.summary import RunSummary


@dataclass
class RunSnapshot(RunFolder):
    """A run as one viewer sees it at one moment: typed, and safe to keep."""
    id: str
    state: RunState
    config: TrainConfig
    created: str
    total_steps: int = 0
    steps: list[dict] = field(default_factory=list)  # StepEvent dicts
    epochs: list[dict] = field(default_factory=list)  # EpochEvent dicts
    error: str | None = None
    queue_position: int | None = None  # 1 = next to start
    started_at: float | None = None  # time.time()
    finished_at: float | None = None
    device: str | None = None
    test: EvalSummary | None = None  # accuracy, per_class_accuracy, confusion_matrix
    result: RunSummary | None = None  # best_epoch, val_accuracy, train_seconds...
    run_dir: str = ""
    owner: str = ""
    mine: bool = True  # the viewer may control it (its owner, or an admin)
    phase: str | None = None  # while active or just stopped: loading, training, scoring
    executor: str | None = None  # local or ray
    node: str | None = None  # the machine it trains on
    estimate_minutes: float | None = None
    last_step: int = 0  # the newest step recorded (steps may be thinned)
    pinned: bool = False  # an admin keeps it from retention
    epochs_done: int = 0
    finetune: dict | None = None  # a fine-tune run's entry (core.train.finetune.run_entry)
    pruned: bool = False  # a sweep's pruner stopped it (core/runs/sweeps.py)
    sweep: dict | None = None  # a sweep trial's entry: the sweep's id, trial number, params

    def __post_init__(self) -> None:
        # Runs read back from disk (status.json, config.json) arrive as plain JSON values.
        self.state = RunState(self.state)
        if isinstance(self.config, dict):
            self.config = TrainConfig.from_dict(self.config)
        if isinstance(self.test, dict):
            self.test = EvalSummary.from_json(self.test)
        if isinstance(self.result, dict):
            self.result = RunSummary.from_json(self.result)

    @property
    def step(self) -> int:
        return max(self.last_step, self.steps[-1]["step"] if self.steps else 0)

    @property
    def fraction_done(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def samples_per_second(self) -> float:
        recent = self.steps[-20:]
        return sum(s["samples_per_second"] for s in recent) / len(recent) if recent else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.steps or self.state not in (RunState.RUNNING, RunState.STOPPING):
            return None
        last = self.steps[-1]
        rate = last["step"] / max(last["elapsed"], 1e-9)  # steps/s, validation included
        return (self.total_steps - last["step"]) / rate if rate > 0 else None
