"""The run system behind the Train page: runs queued, trained elsewhere, watched, kept.

The web's door:
    api.py           RunService (runs), with .sweeps, .quotas and .scheduler; get_service()
    sweep_desk.py    sweeps as the web asks for them (service.sweeps)
    quotas.py        storage and fair-use limits a run, sweep or upload must pass
    visitor_log.py   where visitors were seen (the limits per client address)
Views the pages read:
    snapshot.py      RunSnapshot: one run as the pages read it
    state.py         RunState: a run's states and what a person reads for each
    curves.py        training curves ready to draw (smoothed, thinned)
    compare.py       which runs to compare, how they are named, which settings differ
Where runs live and train:
    database.py      the SQLite run database (RunDatabase: runs and their metrics, with
                     .sweeps and .visitors tables); the only channel between processes
    scheduler.py     the process that hands queued runs to an executor
    executors/       where runs train: processes.py (local worker processes), ray.py
    job.py           training one run and recording it, whichever executor runs it
    sweeps.py        Optuna studies whose trials are ordinary runs (advanced by the scheduler)
    finetune.py      a visitor's handwriting fine-tune, queued as an ordinary run
Keeping runs:
    manifest.py      run.json, each run's record in its own folder
    recovery.py      a damaged database kept aside and rebuilt from the run folders
    retention.py     which runs are removed to keep the disk bounded (`python -m core.runs prune`,
                     __main__.py)
    register.py      `python -m core.train --register`: a shell's run recorded here

The trainer itself (TrainConfig, the loop, the command line) is core/train/.
"""
