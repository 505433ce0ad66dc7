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
from ui.loaders import run_service, use_one_thread  # noqa: E402
from ui.sidebar import render_sidebar  # noqa: E402
from ui.state import SELECTION, VIEWER  # noqa: E402
from core.visitors import server_secret  # noqa: E402

# Each url_path is its page file's name (the default page's URL is "/"): Streamlit
# 1.67 runs the first script run after a server start (and AppTest every run) as a
# legacy pages/ app, which reports any URL that names no pages/ file as "Page not
# found"; with these names it finds the file, and ui.deep_links sends the run back
# through this script (see there).
PAGES = [
    st.Page("pages/classify.py", title="Classify", icon=":material/draw:", default=True),
    st.Page("pages/inside.py", title="Inside the model", icon=":material/layers:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/report:"),
    st.Page("pages/explore.py", title="Dataset explorer", icon=":material/grid_view:"),
]

page = st.navigation({"MNIST Studio": PAGES})
use_one_thread()  # every rerun runs in a fresh thread
st.session_state.pop(SELECTION, None)  # recomputed below, every run
with guard():
    service = run_service()
    st.session_state[VIEWER] = current_viewer(server_secret(service.runs_dir), service.settings)
with guard():
    render_sidebar()
show_callback_error()
with guard():
    page.run()
