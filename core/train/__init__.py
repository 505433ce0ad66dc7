"""Training one model: `python -m core.train`. The run system behind the Train page
(queue, scheduler, executors, run database) is core/runs/, which uses this package.

    config.py        TrainConfig, the one schema of a run's settings (CLI flags come from it)
    loop.py          the trainer: in-memory batches, events, stop, bit-exact resume
    step.py          one training step: eager, static buffers, or a CUDA graph
    optim.py         the optimizer and learning-rate schedule of a config
    augment.py       on-device augmentation of a batch
    outliers.py      outlier exposure and canvas redraws: the loss, and the pools of images
    resume.py        reading a resumable checkpoint (last.pt)
    events.py        what the trainer reports: step, epoch and stop events, TrainResult
    health.py        divergence watch, and a result near chance
    summary.py       RunSummary, what a run achieved, under one set of names
    cost.py          a run's estimated minutes
    script.py        a run's settings as a standalone PyTorch script (--export-script)
    finetune.py      fine-tuning a checkpoint on a visitor's handwriting set
    cli.py           the command line (its --register gets the run system's registrar
                     from __main__.py); finetune_cli.py: `python -m core.train finetune`
"""
