"""Helpers of the Train page (pages/train.py).

form         the settings form (one widget per TrainConfig field), Start and its notice
custom       the layer editor: "custom", a network of the visitor's own layers
sweep        the sweep form and a sweep's view (its trials, the chart)
run_view     the run on show (live view or results, Stop / Resume / Delete) and the runs table
run_rows     runs as a person reads them: the table's rows, a progress line, a settings line
storage_box  what the visitor keeps on the server, against the limits, and what retention removes
code         "Show me the code": a run's settings, or the form's, as a standalone PyTorch script
"""
