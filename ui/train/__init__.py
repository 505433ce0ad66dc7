"""Helpers of the Train page (pages/train.py).

form      the settings form (one widget per TrainConfig field), Start and its notice
run_view  the run on show (live view or results, Stop / Resume / Delete) and the runs table
code      "Show me the code": a run's settings, or the form's, as a standalone PyTorch script
"""
