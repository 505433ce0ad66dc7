"""Prediction on real inputs: `python -m core.predict`.

    preprocess.py  a canvas drawing or an uploaded photo -> the 28x28 image a dataset would have
    classify.py    the model's probabilities, the ranked classes
    saliency.py    where the model looks (input gradient, SmoothGrad, occlusion)
    ood.py         "I don't know": an unfamiliarity score and each model's threshold
    ood_sets.py    inputs no model should know (letters, scribbles, ...) to set those thresholds
    cli.py         the command line
"""
