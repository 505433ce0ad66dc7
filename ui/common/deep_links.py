"""A page URL opened directly on a fresh server: leave Streamlit's legacy pages/ pass.

What Streamlit 1.67 does (runtime/pages_manager.py, runtime/scriptrunner/script_runner.py,
commands/navigation.py): the first PagesManager of the process sets the class flag
`PagesManager.uses_pages_directory` when a pages/ folder sits beside the entry script.
While it is set, a script run does not execute the entry script but `_mpa_v1`, which
builds pages from the pages/*.py file names and resolves the URL against them;
`st.navigation` clears the flag, but only once the entry script runs. There is no
config option for this. So the server's first run (AppTest: every run) is that
legacy pass, and a URL that names no pages/ file sends "page_not_found" (the
browser's "Page not found" dialog) before the entry script resolves the page.

Hence the app's url_paths are the page files' names: the legacy pass then finds the
file and runs it alone, without the entry script. Its first call, selection(),
comes here: we clear the flag, as st.navigation would have, and run the entry script
in its place, in this same run (a rerun would lose a button's click), which
navigates to the same page (its hash is the same url_path's); then this pass stops.

Such a URL also costs two 404s in the browser console (`/compare/_stcore/health`,
`/compare/_stcore/host-config`): Streamlit's frontend probes the page's path as the
server's base path before its parent (streamlit/streamlit#7074), before any script runs;
nothing here can avoid them (docs/deploying.md, tests/e2e/test_log_noise.py).
"""
from __future__ import annotations

import sys
import types

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

_LEGACY_PASS = script_runner._mpa_v1.__code__  # the function Streamlit runs in place of ours


def in_legacy_pages_pass() -> bool:
    """Whether this page file runs in the legacy pass, without the entry script: Streamlit's
    `_mpa_v1` is on this thread's stack, and the entry script is not between it and here.

    Not the class flag: when several sessions start their first runs together (tabs
    reconnecting to a restarted server), the first to get here clears the flag while
    the others are already in their legacy pass."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return False
    entry = ctx.pages_manager.get_page_script_byte_code(ctx.pages_manager.main_script_path)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is entry:  # the entry script runs this page (st.navigation)
            return False
        if frame.f_code is _LEGACY_PASS:
            return True
        frame = frame.f_back
    return False


def leave_legacy_pages_pass() -> None:
    """In the legacy pass, run the entry script instead of the page file, then stop."""
    ctx = get_script_run_ctx()
    if not in_legacy_pages_pass() or ctx is None:
        return
    PagesManager.uses_pages_directory = False
    path = ctx.pages_manager.main_script_path
    module = types.ModuleType("__main__")  # as Streamlit's script runner runs it
    module.__dict__["__file__"] = path
    exec(ctx.pages_manager.get_page_script_byte_code(path), module.__dict__)  # noqa: S102
    st.stop()  # the page file that called us has been run by the entry script
