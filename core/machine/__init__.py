"""The machine the app runs on: its device, its folders, its files.

    device.py  which device trains and predicts (CPU, CUDA, MPS), threads, bf16
    paths.py   where the data, weights, runs and cache folders are
    files.py   writing a file so that a reader never sees half of it
    memory.py  freed memory given back to the system after a big one-off computation
    background.py  a minute's work in a thread of the server, its progress and its result
"""
