"""Evaluation on a dataset split: `python -m core.evaluate`.

    metrics.py      accuracy, per-class accuracy, confusion matrix, mistakes
    predictions.py  a model's saved predictions on a split: beside its checkpoint (shipped
                    models, finished runs), else in the cache folder; evaluate_cached
    compare.py      two models side by side;  mistakes.py  the wrong answers, filtered and paged
    percent.py      the one rounding rule for a percentage shown anywhere
    cli.py          the command line
"""
