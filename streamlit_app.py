"""MNIST Studio: `streamlit run streamlit_app.py`.

The entry script runs on every rerun of every page: page config, navigation, the
visitor's identity, then the selected page, inside an error guard. The shared sidebar
is drawn when the page first asks for its selection (ui.common.selection.selection():
every page at its top, Classify after its canvas), else after the page.

Nothing here imports torch, which is most of a cold start: on a new server, the first
page (Classify) shows its heading and canvas first, then loads torch and the model.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.machine.paths import runs_dir
from core.server.visitors import server_secret
from ui.common import state, timings
from ui.common.errors import guard, show_callback_error
from ui.common.identity import current_viewer, settings_problem

# The tab's icon, served by this server (python -m scripts.favicon draws it): with a
# ":material/...:" or emoji icon, Streamlit's frontend fetches it from the internet.
FAVICON = Path(__file__).resolve().parent / "ui" / "assets" / "favicon.png"


def main() -> None:
    st.set_page_config(page_title="MNIST Studio", page_icon=str(FAVICON), layout="wide",
                       initial_sidebar_state="expanded")

    # Each url_path is its page file's name (the default page's URL is "/"): Streamlit
    # 1.67 runs the first script run after a server start (and AppTest every run) as a
    # legacy pages/ app, which reports any URL that names no pages/ file as "Page not
    # found"; with these names it finds the file, and ui.common.deep_links sends the run back
    # through this script (see there).
    pages = [
        st.Page("pages/classify.py", title="Classify", icon=":material/draw:", default=True),
        st.Page("pages/inside.py", title="Inside the model", icon=":material/layers:"),
        st.Page("pages/handwriting.py", title="Your handwriting", icon=":material/edit_note:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
        st.Page("pages/mistakes.py", title="Mistakes", icon=":material/report:"),
        st.Page("pages/explore.py", title="Dataset explorer", icon=":material/grid_view:"),
    ]
    page = st.navigation({"MNIST Studio": pages})
    problem = settings_problem()
    if problem:  # e.g. an admin token short enough to guess: the app does not run
        st.error(f"**MNIST Studio will not run with this server's settings.** {problem}",
                 icon=":material/block:")
        st.stop()
    timings.set_page(page.url_path or "classify")
    state.new_run()
    with guard(), timings.stage("identity"):
        # The runs folder's secret signs the visitor cookie (core.machine.paths: without the
        # run service, which imports torch).
        st.session_state[state.VIEWER] = current_viewer(server_secret(runs_dir()))
    show_callback_error()
    with guard(), timings.stage("page"):
        page.run()
    with guard():
        from ui.common.sidebar import render_sidebar  # here, after the page: it imports torch
        render_sidebar()  # for a page that failed before asking for it; else drawn already


with timings.script_run("app"):
    main()
