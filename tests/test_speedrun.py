"""The speedrun's recipes are valid settings for architectures that exist; the run
itself is a benchmark (bench.speedrun), not a test."""
import pytest

from bench.speedrun import GOALS, RECIPES
from core.data import DATASETS
from core.train.config import TrainConfig


@pytest.mark.parametrize("device", list(RECIPES))
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_recipe_is_a_valid_config(device, dataset):
    cfg = TrainConfig(dataset=dataset, device=device, **RECIPES[device][dataset])
    assert cfg.epochs >= 1


def test_every_dataset_has_a_cpu_goal():
    assert set(GOALS) == set(DATASETS) == set(RECIPES["cpu"])
