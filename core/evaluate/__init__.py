"""Evaluation on a dataset split: `python -m core.evaluate`.

    metrics.py      accuracy, per-class accuracy, confusion matrix, mistakes
    predictions.py  test predictions kept beside a checkpoint (shipped models, finished runs)
    cache.py        predictions cached on disk for every other model
    compare.py      two models side by side;  mistakes.py  the wrong answers, filtered and paged
    cli.py          the command line
"""
