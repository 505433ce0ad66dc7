"""A run's end: its best weights calibrated on validation, scored once on test, saved.

The trainer chooses the weights (core/train/loop.py); this is the one place that
then looks at the test set, and it writes what the app reads of a run: the
checkpoint with its summary, calibration and own "I don't know" threshold
(core.predict.ood.run_calibration, chosen on validation), and its test
predictions beside it.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from core.data import DataBundle
from core.evaluate.metrics import EvalResult, predict_split, summarize
from core.evaluate.predictions import predictions_path, save_predictions
from core.networks.calibration import apply_temperature, calibrate
from core.networks.checkpoints import CheckpointMeta, save_checkpoint
from core.networks.models import logits_of
from core.predict.ood import OWN_KEY, run_calibration
from core.train.events import TrainResult
from core.train.summary import RunSummary


def finish(result: TrainResult, data: DataBundle, path: str | Path,
           run: str | None = None) -> tuple[EvalResult, RunSummary]:
    """Calibrate the best weights on the validation split (core.networks.calibration), evaluate them
    once on the test set and save them with the run's summary.

    The test set is looked at here only, after training chose its weights.
    """
    cfg = result.config
    # The softmax temperature is fitted on validation, before the test set is looked at;
    # so is the run's own "I don't know" threshold, on the same logits, calibrated.
    apply_temperature(result.model, 1.0)
    raw = logits_of(result.model, data.val.images, data.spec.mean, data.spec.std)
    fit = calibrate(result.model, data.val, data.spec.mean, data.spec.std, logits=raw)
    own = {OWN_KEY: asdict(run_calibration(raw / fit.temperature))} if len(raw) else {}
    pred = predict_split(result.model, data.test, data.spec.mean, data.spec.std)
    test = summarize(pred)
    summary = RunSummary.of(result, test, path, run)
    meta = CheckpointMeta.new(cfg.dataset, cfg.model, asdict(cfg),
                              {**summary.to_json(), "calibration": asdict(fit), **own},
                              cfg.layers)
    meta.temperature = fit.temperature
    save_checkpoint(path, result.model, meta)
    # Kept beside the checkpoint, so Evaluate and Mistakes open it without a model pass.
    save_predictions(predictions_path(path), pred, path, data.test, data.spec.mean, data.spec.std)
    return test, summary
