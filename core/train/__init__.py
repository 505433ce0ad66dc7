"""Training one model: `python -m core.train`. The run system behind the Train page
(queue, scheduler, executors, run database) is core/runs/, which uses this package.

    config.py    TrainConfig, the one schema of a run's settings (CLI flags come from it)
    loop.py      the trainer: in-memory batches, events, stop, bit-exact resume, finish()
    health.py    divergence watch, and a result near chance
    summary.py   RunSummary, what a run achieved, under one set of names
    cost.py      a run's estimated minutes
    cli.py       the command line (its --register gets the run system's registrar
                 from __main__.py)
"""
