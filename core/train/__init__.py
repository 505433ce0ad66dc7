"""Training: `python -m core.train`, and the run system behind the Train page.

    config.py    TrainConfig, the one schema of a run's settings (CLI flags come from it)
    loop.py      the trainer: in-memory batches, events, stop, bit-exact resume, finish()
    summary.py   RunSummary, what a run achieved, under one set of names
    cli.py       the command line
    state.py     RunState, with each state's label and badge
    service.py   the run system as the web app sees it: owners, limits, snapshots
    store.py     the SQLite run database (runs, metrics), the only channel between processes
    runner.py    the process that hands queued runs to an executor
    worker.py    running one run and recording it (local worker processes)
    ray_executor.py  the same on a Ray cluster
    snapshot.py, runs.py, curves.py  a run as the pages read and draw it
    cost.py      a run's estimated minutes;  legacy.py  import of the old runs/ layout
"""
