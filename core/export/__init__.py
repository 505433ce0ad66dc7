"""A model for use outside MNIST Studio: `python -m core.export`.

    exporting.py  a checkpoint -> ONNX or TorchScript bytes, normalisation built in
    cli.py        the command line (__main__.py runs it)
"""
