"""MNIST Studio: `streamlit run streamlit_app.py`.

The entry script runs on every rerun of every page: page config, navigation,
the shared sidebar, then the selected page, inside an error guard.
"""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="MNIST Studio", page_icon=":material/draw:", layout="wide",
                   initial_sidebar_state="expanded")

from ui.errors import guard, show_callback_error  # noqa: E402  (set_page_config first)
from ui.identity import current_viewer  # noqa: E402
from ui.loaders import runs, use_one_thread  # noqa: E402
from ui.sidebar import render_sidebar  # noqa: E402
from ui.state import SELECTION, VIEWER  # noqa: E402
from core.visitors import server_secret  # noqa: E402

# url_paths differ from the file names on purpose: with a pages/ folder beside
# this script, Streamlit 1.67 runs its first script run after a server start (and
# AppTest every run) as a legacy multipage app, which would run a deep-linked
# page file (/train -> pages/train.py) alone, without this script's config and
# sidebar. With paths that match no file name, that legacy pass falls back to
# this script, whose st.navigation then resolves the path.
PAGES = [
    st.Page("pages/classify.py", title="Classify", icon=":material/draw:", default=True,
            url_path="home"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:",
            url_path="training"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:",
            url_path="evaluation"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/report:",
            url_path="misclassified"),
    st.Page("pages/explore.py", title="Dataset explorer", icon=":material/grid_view:",
            url_path="dataset"),
]

page = st.navigation({"MNIST Studio": PAGES})
use_one_thread()  # every rerun runs in a fresh thread
st.session_state.pop(SELECTION, None)  # recomputed below, every run
with guard():
    service = runs()
    st.session_state[VIEWER] = current_viewer(server_secret(service.runs_dir), service.settings)
with guard():
    render_sidebar()
show_callback_error()
with guard():
    page.run()
