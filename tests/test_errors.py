"""ui.common.errors: the message a page shows for a failure, and what the server log gets."""
from __future__ import annotations

import logging

import pytest

from core.networks.checkpoints import CheckpointError
from core.predict.preprocess import InputError
from core.runs.quotas import LimitReached
from core.train.config import ConfigError
from ui.common.errors import friendly_message, log_failure


def test_file_names_keep_their_case_and_ordinary_sentences_get_a_capital():
    """a message that starts with a file name shows it as uploaded."""
    assert "** not_an_image.png is not an image" in friendly_message(
        InputError("not_an_image.png is not an image (PNG, JPEG)"))
    assert "** huge_48mp_digit1.png is 8000x6000" in friendly_message(
        InputError("huge_48mp_digit1.png is 8000x6000 pixels"))
    assert "** x.pt: not a PyTorch" in friendly_message(
        CheckpointError("x.pt: not a PyTorch checkpoint (unreadable)"))
    assert "** The file is empty." in friendly_message(InputError("the file is empty"))
    assert "** Cannot read a.png" in friendly_message(InputError("cannot read a.png: closed"))


def _raised(err: BaseException) -> BaseException:
    try:
        raise err
    except BaseException as caught:  # with its traceback, as a page would have it
        return caught


@pytest.mark.parametrize("err", [
    ConfigError({"epochs": "epochs must be between 1 and 200, got 0"}),
    InputError("not_an_image.png is not an image (PNG, JPEG)"),
    CheckpointError("x.pt: not a PyTorch checkpoint (unreadable)"),
    LimitReached("2 runs at once is the limit per visitor"),
], ids=lambda e: type(e).__name__)
def test_a_users_error_is_one_info_line_in_the_log(caplog, err):
    """routine input errors wrote a whole traceback to the server log."""
    with caplog.at_level(logging.INFO, logger="mnist_studio"):
        log_failure(_raised(err), "error shown in the page")
    (record,) = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert "\n" not in record.getMessage() and type(err).__name__ in record.getMessage()


def test_a_fault_keeps_its_traceback_in_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="mnist_studio"):
        log_failure(_raised(ZeroDivisionError("division by zero")), "error shown in the page")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
