"""Networks: what a model is, how it is stored and which ones the app can use.

    spec.py         a network as a layer list: grammar, shape check, build
    layers.py       the blocks the spec builds beyond torch.nn's own
    models.py       the built-in architectures, each a spec
    checkpoints.py  the one checkpoint format (a state_dict plus metadata)
    calibration.py  temperature scaling and its measure (ECE)
    catalog.py      which models can be used: shipped weights, runs, uploads
"""
