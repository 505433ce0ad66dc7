"""How long the first visit to Evaluate takes for a shipped model, with an empty .cache.

    MNIST_STUDIO_DATA=/path/to/data .venv/bin/python -m bench.evaluate_first_visit [mnist|fashion]

For each dataset's default shipped model (the resnets): a fresh AppTest session
opens the app (Classify: imports, data, models warmed), then the time of the run
that switches to Evaluate is measured, with the evaluation cache in a new empty
folder. That run computes (or reads) model A's test results and model B's, for
the "Compare two models" section. Also the loader call alone (ui.common.loaders.evaluation).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.data import DATASETS
from core.networks.catalog import default_model, list_models
from ui.common.state import DATASET

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(datasets: list[str]) -> None:
    for dataset in datasets:
        os.environ["MNIST_STUDIO_CACHE"] = tempfile.mkdtemp(prefix="eval-cache-")
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
        at.session_state[DATASET] = dataset
        at.run()
        start = time.perf_counter()
        at.switch_page("pages/evaluate.py").run()
        page_s = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        accuracy = [m.value for m in at.metric if m.label == "Test accuracy"]
        model = default_model(list_models(dataset), dataset)
        print(f"{dataset}: first visit to Evaluate ({model.path.name} and model B) "
              f"{page_s:.2f} s, accuracy shown {accuracy}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.evaluate_first_visit",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", metavar="DATASET",
                        help=f"whose default model is timed: {', '.join(DATASETS)} (default: all)")
    chosen = parser.parse_args().datasets or list(DATASETS)
    unknown = [d for d in chosen if d not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset {unknown[0]!r}: choose from {', '.join(DATASETS)}")
    main(chosen)
