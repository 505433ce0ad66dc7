"""Can a run be trusted? A loss that diverged while training, a result near chance, and
the settings that likely caused either.

Divergence: a loss is not finite, or the mean of any few consecutive steps' losses
is over EXPLOSION_FACTOR times the first step's loss. The first step is the untrained
model's loss (about ln 10 = 2.3 for ten classes); a healthy run only goes down
from there, and noise never takes it 10x higher. A mean of the first few steps
would not do: a learning rate of 2 already sends the second step's loss into
the hundreds.
"""
from __future__ import annotations

import math
from collections import deque

from core.train.config import TrainConfig

EXPLOSION_FACTOR = 10.0  # recent loss / first step's loss above which a run diverged
RECENT_LOSSES = 3  # logged losses averaged, so one noisy batch is not a divergence
# Learning rates above which these optimizers usually diverge on MNIST-sized models.
SANE_LR = {"adam": 0.01, "adamw": 0.01, "sgd": 0.1}
LARGE_WEIGHT_DECAY = 0.1  # at and above this, weight decay swamps the loss's gradient
SANE_WEIGHT_DECAY = 0.01
NEAR_CHANCE_FACTOR = 2.0  # accuracy under 2x chance (20% for ten classes): barely learned


def likely_cause(cfg: TrainConfig) -> str | None:
    """The settings that likely made a run diverge or learn nothing, and what to try;
    None when no setting is out of the usual."""
    causes = []
    sane = SANE_LR.get(cfg.optimizer)
    if sane is not None and cfg.lr > sane:
        causes.append(f"learning rate {cfg.lr:g} is too high for {cfg.optimizer}; "
                      f"try <= {sane:g}")
    if cfg.weight_decay >= LARGE_WEIGHT_DECAY:
        causes.append(f"weight decay {cfg.weight_decay:g} is large; try <= {SANE_WEIGHT_DECAY:g}")
    return "; ".join(causes) or None


def near_chance(accuracy: float | None, classes: int) -> bool:
    """An accuracy a model that barely learned gets (None: not measured, not flagged)."""
    return accuracy is not None and accuracy < NEAR_CHANCE_FACTOR / classes


def _number(loss: float) -> str:
    """41,809 or 2.31 or 1.3e+30: readable whatever the size."""
    return f"{loss:.3g}" if loss >= 1e6 else f"{loss:,.0f}" if loss >= 100 else f"{loss:.2f}"


class DivergenceWatch:
    """Fed what the trainer reads of the loss; says when the run has diverged.

    Every step counts, read or not: with each read loss the trainer passes the peak,
    over the steps since its last read, of the mean of the last RECENT_LOSSES losses,
    and whether any loss was not finite (core/train/step.py's LossWatch keeps both on
    the device). Without them a GPU run, read every 20 steps, missed a loss of
    hundreds at step 2 that had fallen back to a dead network's 2.3 by step 20.
    """

    def __init__(self, cfg: TrainConfig, start_loss: float | None = None) -> None:
        self.cfg = cfg
        self.start = start_loss  # the first step's loss (kept across a resume)
        self.recent: deque[float] = deque(maxlen=RECENT_LOSSES)

    def check(self, step: int, loss: float, peak: float | None = None,
              nonfinite: bool = False) -> str | None:
        """Why the run diverged by this read step, or None while it is healthy.

        peak: the largest mean of RECENT_LOSSES consecutive losses since the last read
        (None: only the read losses are known, and their mean is used)."""
        if nonfinite or not math.isfinite(loss) or (peak is not None and not math.isfinite(peak)):
            bad = loss if not math.isfinite(loss) else float("nan")
            when = f"at step {step}" if not math.isfinite(loss) else f"by step {step}"
            return f"the loss became {bad} {when}: {self._cause()}"
        self.recent.append(loss)
        if peak is None:
            peak = sum(self.recent) / len(self.recent)
        if self.start is not None and peak > EXPLOSION_FACTOR * self.start:
            return (f"the loss rose to {_number(peak)} at step {step}, over "
                    f"{EXPLOSION_FACTOR:g}x its start ({self.start:.2f}): {self._cause()}")
        return None

    def _cause(self) -> str:
        return likely_cause(self.cfg) or "try a lower learning rate"
