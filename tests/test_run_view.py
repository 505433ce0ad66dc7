"""The Train page's run view, from run snapshots made up here: what a stopped or pruned run
says (and to whom), and the runs table beside the run's own metrics."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.runs.snapshot import RunSnapshot
from core.train.config import TrainConfig
from ui.train.run_view import stopped_text


def _stopped(tmp_path, pruned: bool, mine: bool) -> RunSnapshot:
    (tmp_path / "last.pt").write_bytes(b"state")  # resumable
    return RunSnapshot(id="r1", state="cancelled", config=TrainConfig(epochs=5), created="now",
                       run_dir=str(tmp_path), epochs_done=2, pruned=pruned, mine=mine)


def test_a_pruned_trial_says_pruned_and_only_its_owner_reads_about_resume(tmp_path):
    """It said "Stopped ... Resume continues", and said so to a visitor with no Resume."""
    text = stopped_text(_stopped(tmp_path, pruned=True, mine=True))
    assert text.startswith("**Pruned** by its sweep after 2 of 5 epochs: its validation "
                           "accuracy was below the median")
    assert "**Resume**" in text and "Stopped" not in text
    assert "Resume" not in stopped_text(_stopped(tmp_path, pruned=True, mine=False))
    plain = _stopped(tmp_path, pruned=False, mine=False)
    assert stopped_text(plain) == "**Stopped** after 2 of 5 epochs."


def _runs_script():
    import streamlit as st

    from core.evaluate.metrics import EvalSummary
    from core.runs.snapshot import RunSnapshot
    from core.server.visitors import Viewer
    from core.train.config import TrainConfig
    from core.train.summary import RunSummary
    from ui.common.state import VIEWER
    from ui.train.run_view import runs_table, show_results

    st.session_state[VIEWER] = Viewer("v:me")
    # 11,883 of 12,000 validation images: 99.025%, a tie at two decimals.
    done = RunSnapshot(id="done", state="finished", config=TrainConfig(), created="now",
                       owner="v:me", test=EvalSummary(0.9871, per_class_accuracy=[0.98] * 10,
                                                      confusion_matrix=[[1] * 10] * 10),
                       result=RunSummary(val_accuracy=11883 / 12000, best_epoch=3,
                                         train_seconds=12.0, samples_per_second=1000.0))
    training = RunSnapshot(id="training", state="running", config=TrainConfig(), created="now",
                           owner="v:me")
    show_results(done)
    runs_table([done, training])


def test_the_runs_table_rounds_like_the_metrics_and_leaves_a_training_runs_cells_empty():
    """One run read 99.02% best validation in its metric and 99.03% in the table; a run in
    training had "None" in its table cells."""
    at = AppTest.from_function(_runs_script).run()
    assert not at.exception, [e.value for e in at.exception]
    metric = next(m.value for m in at.metric if m.label == "Best validation accuracy")
    table = at.dataframe[-1]
    assert table.proto.placeholder == "—"
    rows = table.value.set_index("Run")
    assert metric == "99.03%" and rows.loc["done", "Best val accuracy"] == 0.9903
    assert rows.loc["training", ["Test accuracy", "Best val accuracy"]].isna().all()
