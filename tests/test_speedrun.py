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


def test_the_gpu_recipe_rule_takes_the_fastest_that_clears_validation(tmp_path):
    from bench.gpu_recipes import CANDIDATES, choose, read_rows
    sweep = tmp_path / "recipes.txt"
    sweep.write_text("$ python3 -m bench.gpu_recipes --dataset mnist\n" + "\n".join(
        '{"dataset": "mnist", "recipe": {"epochs": %d}, "val_accuracy": %s, "train_seconds": %s}'
        % row for row in [(1, 0.9905, 0.05), (2, 0.9921, 0.2), (3, 0.9930, 0.3)]) + "\nexit 0\n")
    rows = read_rows(str(sweep), "mnist")
    assert choose(rows, "mnist") == {"epochs": 2}  # the fastest above 99.15%
    assert choose(rows[:1], "mnist") == {"epochs": 1}  # none clears it: the most accurate
    for dataset, recipes in CANDIDATES.items():
        for recipe in recipes:
            assert TrainConfig(dataset=dataset, device="cuda", **recipe).epochs >= 1
