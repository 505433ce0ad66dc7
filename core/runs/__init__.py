"""The run system behind the Train page: runs queued, trained elsewhere, watched, kept.

    service.py   the run system as the web app sees it: owners, limits, snapshots
    store.py     the SQLite run database (runs, metrics), the only channel between processes
    state.py     RunState, with each state's label and badge
    runner.py    the process that hands queued runs to an executor
    executors/   where runs train: local.py (worker processes), ray.py (a Ray cluster)
    worker.py    running one run and recording it, whichever executor runs it
    snapshot.py, runs.py, curves.py  a run as the pages read and draw it
    compare.py   which settings differ between runs, and one metric's curves
    register.py  `python -m core.train --register`: a shell's run recorded here
    legacy.py    import of the old runs/ layout

The trainer itself (TrainConfig, the loop, the command line) is core/train/.
"""
