"""Evaluation on a dataset split: `python -m core.evaluate`.

    metrics.py      accuracy, per-class accuracy, confusion matrix, mistakes
    predictions.py  a model's saved predictions on a split: beside its checkpoint (shipped
                    models, finished runs), else in the cache folder; evaluate_cached
    final.py        a run's end: its best weights calibrated on validation, scored on test, saved
    compare.py      two models side by side
    mistakes.py     the wrong answers, filtered and paged
    embedding.py    the test set's map in a model's feature space (Inside the model)
    robust.py       accuracy under attack (PGD), cached per model
    percent.py      the one rounding rule for a percentage shown anywhere
    cli.py          the command line (__main__.py runs it)
"""
