"""Helpers shared by the pages and the entry script (streamlit_app.py).

state           session-state keys, Selection, ModelInput, viewer(); the bottom of ui/
selection       selection() and require_model(): what a page calls first (draws the sidebar)
sidebar         the shared sidebar: dataset, model list and choice, device badge, admin box
loaders         everything slow, cached once per process: checkpoints, splits, evaluations
model_files     the sidebar's checkpoint upload and export of the selected model
identity        who this browser is: the signed visitor cookie, the admin box
errors          failures shown as messages (guard, guarded, safe_callback), never a traceback
data_download   the "Download <dataset>" button under a missing-dataset message
deep_links      a page URL opened on a fresh server: leaving Streamlit's legacy pages/ pass
timings         opt-in stage-by-stage timings of script runs ($MNIST_STUDIO_TIMINGS)
neighbours      the nearest training images to an input (Classify, Mistakes), computed once
charts          Plotly figure builders used across pages: bars, images, heatmaps, curves
pictures        figures as plain HTML for what follows each stroke: inline PNGs, bars
insight_charts  figures of Inside the model and Compare runs: heat strips, embedding map, runs
calibration     the reliability diagram and ECE of a model (Evaluate, Classify)
handwriting     the visitor's handwriting set, as the pages open it
format          numbers as the pages write them (durations; percents, one rounding rule)
run_badges      a run's state as a badge: word, icon, colour
progress        a background task's bar (count of items done), redrawn until it is over

Imports point down: selection -> sidebar -> model_files -> loaders, and all of them -> state.
"""
