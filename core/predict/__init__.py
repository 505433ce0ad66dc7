"""Prediction on real inputs: `python -m core.predict`.

    preprocess.py  a canvas drawing or an uploaded photo -> the 28x28 image a dataset would have
    strokes.py     a drawing's stroke width, measured and matched to the dataset's
    classify.py    the model's probabilities, the ranked classes
    answer.py      ranking, logits and input gradient from one forward and one backward pass
                   (one input, or a batch of them)
    batching.py    many visitors' inputs answered by one model call; a bounded queue (Busy)
    saliency.py    where the model looks (input gradient, SmoothGrad, occlusion)
    activations.py every layer's output for one input (Inside the model)
    ood.py         "I don't know": an unfamiliarity score and each model's threshold
    ood_sets.py    inputs no model should know (letters, scribbles, ...) to set those thresholds
    redraw.py      images redrawn as canvas strokes of even width, as a person draws them
    photos.py      images photographed on paper, as a person photographs them for an upload
    doodles.py     drawn things that are no digit and no garment (scribbles, shapes, doodles)
    attacks.py     adversarial examples: the smallest change that flips an answer (FGSM, PGD)
    neighbours.py  the training images nearest to an input in the model's own features
    cli.py         the command line (__main__.py runs it)
"""
