"""RunState: the states of a training run, with what a person reads for each.

A str enum: its values are the strings the run database stores, and a
member equals its string ("finished" == RunState.FINISHED).
"""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class RunState(StrEnum):
    #          stored value  label
    QUEUED = ("queued", "queued")
    RUNNING = ("running", "training")
    STOPPING = ("stopping", "stopping")
    FINISHED = ("finished", "finished")
    CANCELLED = ("cancelled", "stopped")
    FAILED = ("failed", "failed")
    # The loss blew up and training ended early. Over, but not resumable: resuming
    # would diverge again; the run's error says why and what to change.
    DIVERGED = ("diverged", "diverged")

    def __new__(cls, value: str, label: str) -> "RunState":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label  # what a person reads: "training", "stopped"...
        return member

    @property
    def active(self) -> bool:
        """Queued or training: its files still change."""
        return self in (RunState.QUEUED, RunState.RUNNING, RunState.STOPPING)

    @property
    def usable(self) -> bool:
        """Over (finished, stopped, failed or diverged): a best.pt it wrote no longer changes."""
        return not self.active

    @property
    def ended_early(self) -> bool:
        """Ended before its last epoch (stopped, interrupted or failed), so it can be resumed.
        A diverged run also ended early, but is not one of these: it would diverge again."""
        return self in (RunState.CANCELLED, RunState.FAILED)


class RunFolder:
    """What a run's folder holds, for any run record with run_dir, state and phase
    (the store's RunRecord and the pages' RunSnapshot): one rule for both."""
    run_dir: str
    state: RunState
    phase: str | None

    @property
    def last_checkpoint(self) -> Path:
        """The resumable state (model, optimizer, progress) while the run can be resumed."""
        return Path(self.run_dir) / "last.pt"

    @property
    def best_checkpoint(self) -> Path | None:
        p = Path(self.run_dir) / "best.pt"
        return p if p.exists() else None

    @property
    def resumable(self) -> bool:
        """Ended early (stopped, interrupted, failed), done scoring, and its state saved."""
        return self.state.ended_early and self.phase is None and self.last_checkpoint.exists()
