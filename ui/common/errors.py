"""Failures become a clear message in the page, never a Python traceback.

A fault's traceback still goes to the server log (ERROR), where a developer looks
for it; a person's own mistake or a limit they met (a bad upload, epochs 0) is
routine and gets one INFO line there.
"""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import streamlit as st

from core.data import DataMissingError
from ui.common.data_download import offer_download

log = logging.getLogger("mnist_studio")
F = TypeVar("F", bound=Callable)


def _sentence(text: str) -> str:
    """A capital first letter when the message starts with an ordinary word ("cannot read
    ..." -> "Cannot read ..."); one that starts with a file name ("not_an_image.png is
    not an image") shows the name exactly as uploaded (uploads always have an extension)."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    return text[0].upper() + text[1:] if first.isalpha() and first.islower() else text


def friendly_message(err: BaseException) -> str:
    """One or two sentences a person can act on."""
    # Imported here, on the way to a message, not with this module: the entry script
    # imports it, and most of these import torch (a cold start's first page needs none).
    from core.networks.checkpoints import CheckpointError
    from core.predict.preprocess import InputError
    from core.train.config import ConfigError
    from core.runs.api import LimitReached, NotAllowed, RunNotFound, StoreBusy, TransitionRefused

    text = str(err).strip() or type(err).__name__
    if isinstance(err, ConfigError):
        return f"**These settings cannot be used; nothing was started:** {text}."
    if isinstance(err, DataMissingError):
        return f"**The dataset is not available.** {text}"
    if isinstance(err, CheckpointError):
        return f"**This model file cannot be used.** {_sentence(text)}"
    if isinstance(err, InputError):
        return f"**This file cannot be classified.** {_sentence(text)}."
    if isinstance(err, LimitReached):
        return f"**Not started.** {text}"
    if isinstance(err, NotAllowed):
        return f"**Not yours.** {text}"
    if isinstance(err, RunNotFound):
        return f"**Not found.** {err}."
    if isinstance(err, StoreBusy):
        return ("**Busy.** The run database is busy (another process is writing to it), so "
                "nothing was changed. Try again in a few seconds.")
    if isinstance(err, TransitionRefused):
        return f"**Nothing changed.** {_sentence(text)}."
    if isinstance(err, MemoryError):
        return "**Out of memory.** Try a smaller batch size or a smaller model."
    if isinstance(err, FileNotFoundError):
        return f"**A file is missing.** {text}"
    if isinstance(err, RuntimeError) and "CUDA" in text:
        return f"**The GPU reported an error.** {text.splitlines()[0]}"
    return (f"**Something went wrong** ({type(err).__name__}: {text.splitlines()[0][:300]}). "
            "The details are in the server log.")


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a person typed, uploaded or asked for could not be used (bad input, a limit,
    not theirs, already changed): the page says why, and the app is not at fault."""
    # Here, as in friendly_message: most of these import torch.
    from core.networks.checkpoints import CheckpointError
    from core.data.imageset import ImageSetError
    from core.predict.preprocess import InputError
    from core.runs.api import (LimitReached, NotAllowed, RunNotFound, SweepError, SweepNotFound,
                               TransitionRefused)
    from core.train.config import ConfigError
    from core.train.finetune import FinetuneError

    return (ConfigError, InputError, CheckpointError, ImageSetError, FinetuneError,
            DataMissingError, LimitReached, NotAllowed, RunNotFound, TransitionRefused,
            SweepError, SweepNotFound)


def log_failure(err: BaseException, where: str) -> None:
    """One INFO line for a user's error, the traceback at ERROR for anything else."""
    if isinstance(err, _user_errors()):
        text = " ".join(str(err).split())[:300]  # one line, whatever the message holds
        log.info("%s: %s: %s", where, type(err).__name__, text)
    else:
        log.error(where, exc_info=err)


def show_error(err: BaseException) -> None:
    # Streamlit's own control flow (rerun, stop, switch_page) derives from
    # BaseException, not Exception, so it never reaches here.
    log_failure(err, "error shown in the page")
    st.error(friendly_message(err), icon=":material/error:")
    if isinstance(err, DataMissingError):  # every page that needs data offers the download
        offer_download(err)


@contextmanager
def guard() -> Iterator[None]:
    """`with guard():` around a page body or a section of one."""
    try:
        yield
    except Exception as err:
        show_error(err)


def guarded(func: F) -> F:
    """The same as a decorator, for fragments (which rerun without the page around them)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with guard():
            return func(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


CALLBACK_ERROR = "_callback_error"


def safe_callback(func: F) -> F:
    """For widget callbacks. They run before the page script, outside any guard, so
    an exception there would reach Streamlit's own error display; instead it is
    kept and shown as a message by show_callback_error() in the page."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as err:
            log_failure(err, "error in a callback")
            st.session_state[CALLBACK_ERROR] = err
    return wrapper  # type: ignore[return-value]


def show_callback_error() -> None:
    err = st.session_state.pop(CALLBACK_ERROR, None)
    if err is not None:
        st.error(friendly_message(err), icon=":material/error:")
