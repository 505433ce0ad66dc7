import io
import os
import pickle

import pytest
import torch

from core.networks.checkpoints import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from core.networks.models import build_model


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model = build_model("bn-cnn")
    meta = CheckpointMeta.new("fashion", "bn-cnn", {"lr": 0.001}, {"val_accuracy": 0.9})
    path = save_checkpoint(tmp_path / "a" / "m.pt", model, meta)
    ck = load_checkpoint(path)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), ck.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert ck.meta.class_names[0] == "T-shirt/top" and ck.meta.mean == 0.2860
    assert ck.meta.hyperparameters == {"lr": 0.001} and ck.meta.metrics == {"val_accuracy": 0.9}
    assert type(ck.meta.torch_version) is str and ck.meta.created
    assert not ck.model.training
    assert list(tmp_path.glob("a/.*tmp")) == []  # no temporary file left behind


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "mnist-studio/1", "state_dict": {}, "meta": Evil()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "plain.pkl")
    assert not marker.exists()


def test_truncated_file_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build_model("ffnn"), CheckpointMeta.new("mnist", "ffnn"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_wrong_architecture_is_a_clear_error(tmp_path):
    meta = CheckpointMeta.new("mnist", "cnn")  # says cnn, holds ffnn weights
    path = save_checkpoint(tmp_path / "m.pt", build_model("ffnn"), meta)
    with pytest.raises(CheckpointError, match="do not fit architecture 'cnn'"):
        load_checkpoint(path)


def test_foreign_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an MNIST Studio checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


class _Custom:  # a class of this test module: torch.save pickles it by name
    pass


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("raw, reason", [
    (os.urandom(5000), "not a PyTorch checkpoint (unreadable)"),
    (b"just some text\nsaved as .pt\n", "not a PyTorch checkpoint (unreadable)"),
    (_saved(_Custom()), "could run code (tests.test_checkpoints._Custom)"),
    (_saved(_RunsCode()), "could run code (posix.system)"),
    (pickle.dumps(_RunsCode()), "could run code (posix.system)"),  # protocol 5
    (pickle.dumps(_RunsCode(), protocol=0), "could run code (posix.system)"),
    (pickle.dumps([1, 2, 3]), "not a PyTorch checkpoint (unreadable)"),  # a pickle, no globals
], ids=["random", "text", "custom-class", "os-system", "raw-pickle-5", "raw-pickle-0", "list"])
def test_unloadable_files_get_one_short_line(tmp_path, raw, reason):
    """Random bytes and text are not called pickles; no PyTorch text or Python internals."""
    (tmp_path / "x.pt").write_bytes(raw)
    for source in (tmp_path / "x.pt", io.BytesIO(raw)):
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(source)
        message = str(caught.value)
        assert reason in message
        assert "\n" not in message and len(message) < 120, message
        assert "weights_only" not in message and "pop from" not in message
