"""ui.common.errors: the message a page shows for a failure, and what the server log gets."""
from __future__ import annotations

from core.checkpoints import CheckpointError
from core.predict.preprocess import InputError
from ui.common.errors import friendly_message


def test_file_names_keep_their_case_and_ordinary_sentences_get_a_capital():
    """Issue 22, defect 4: a message that starts with a file name shows it as uploaded."""
    assert "** not_an_image.png is not an image" in friendly_message(
        InputError("not_an_image.png is not an image (PNG, JPEG)"))
    assert "** huge_48mp_digit1.png is 8000x6000" in friendly_message(
        InputError("huge_48mp_digit1.png is 8000x6000 pixels"))
    assert "** x.pt: not a PyTorch" in friendly_message(
        CheckpointError("x.pt: not a PyTorch checkpoint (unreadable)"))
    assert "** The file is empty." in friendly_message(InputError("the file is empty"))
    assert "** Cannot read a.png" in friendly_message(InputError("cannot read a.png: closed"))
