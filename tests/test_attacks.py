"""Fool the model (core/predict/attacks.py), accuracy under attack (core/evaluate/robust.py) and
adversarial training (TrainConfig.adversarial)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.predict.attacks import DEFAULT_EPS, attack, check_budget, training_attack, transfer
from core.networks.checkpoints import load_checkpoint
from core.data import load_bundle
from core.evaluate.cli import main as evaluate_main
from core.evaluate.robust import cached_only, robust_accuracy, robust_cached
from core.train.config import ConfigError, TrainConfig
from core.train.loop import train

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
NAMES = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def cnn():
    return load_checkpoint(WEIGHTS / "mnist-cnn.pt")


def one() -> np.ndarray:
    """A plain upright 1, as the canvas would give it: the shipped cnn reads it as a 1."""
    image = np.zeros((28, 28), np.uint8)
    image[5:23, 13:16] = 255
    return image


def within_budget(result, eps):
    assert result.linf <= eps + 1e-6
    assert np.abs(result.perturbed - result.original).max() <= eps + 1e-6
    assert result.perturbed.min() >= 0.0 and result.perturbed.max() <= 1.0


@pytest.mark.parametrize("method", ["pgd", "fgsm"])
def test_an_attack_flips_the_prediction_within_its_budget(cnn, method):
    m = cnn.meta
    result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.3, method=method)
    assert result.original_class == 1
    assert result.success and result.predicted != 1
    within_budget(result, 0.3)
    assert result.l2 == pytest.approx(float(np.linalg.norm(result.perturbation)), rel=1e-6)
    assert result.message.startswith("fooled: it now says")
    # The perturbed image really is what the model now answers.
    x = (torch.from_numpy(result.perturbed)[None, None] - m.mean) / m.std
    with torch.no_grad():
        assert int(cnn.model.eval()(x).argmax()) == result.predicted
    assert 1 <= result.steps_used <= result.steps


def test_pgd_stops_when_fooled_and_never_leaves_the_budget(cnn):
    m = cnn.meta
    for eps in (0.05, 0.15, 0.3):
        result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=eps, steps=40,
                        random_start=True)
        within_budget(result, eps)
    result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.3, steps=40)
    assert result.success and result.steps_used < 40  # it stopped early


def test_a_targeted_attack_reaches_its_target(cnn):
    m = cnn.meta
    result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.3, target=7)
    assert result.success and result.predicted == 7 and result.target == 7
    within_budget(result, 0.3)


def test_a_budget_too_small_says_not_fooled(cnn):
    m = cnn.meta
    result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.01, steps=40)
    assert not result.success and result.predicted == 1
    assert result.steps_used == 40
    assert result.message == "not fooled at eps=0.01 in 40 steps; try a larger budget"
    fgsm = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.01, method="fgsm")
    assert fgsm.message == "not fooled at eps=0.01 in 1 step; try a larger budget or PGD"


def test_the_panels_default_budget_fools_the_default_model_on_drawn_digits():
    """Fool it opened on eps 0.1, which left the default resnet unfooled on 70% of drawn
    digits (bench.fool_budget). Its default budget fools (nearly) every one of them: a
    margin of 1 in 10 for another CPU's arithmetic (the bench measured 50 of 50)."""
    from bench.attack_speed import drawn_digits
    from core.networks.catalog import default_model, shipped_models

    entry = default_model(shipped_models(WEIGHTS), "mnist", WEIGHTS)
    ck = load_checkpoint(entry.path)
    images = drawn_digits(seed=0)
    fooled = sum(attack(ck.model, image, ck.meta.mean, ck.meta.std, ck.meta.class_names,
                        DEFAULT_EPS).success for image in images)
    assert fooled >= len(images) - 1, (entry.path.name, DEFAULT_EPS, fooled)


@pytest.mark.parametrize("eps, words", [(0, "more than 0"), (-0.1, "more than 0"),
                                        (0.9, "at most 0.5"), (float("nan"), "more than 0")])
def test_a_budget_of_zero_or_out_of_range_is_refused_clearly(cnn, eps, words):
    with pytest.raises(ValueError, match=words):
        attack(cnn.model, one(), cnn.meta.mean, cnn.meta.std, NAMES, eps=eps)


def test_bad_attack_requests_are_refused(cnn):
    m = cnn.meta
    with pytest.raises(ValueError, match="nothing to attack"):
        attack(cnn.model, np.zeros((28, 28), np.uint8), m.mean, m.std, NAMES, eps=0.1)
    with pytest.raises(ValueError, match="already answers 1"):
        attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.1, target=1)
    with pytest.raises(ValueError, match="unknown attack"):
        check_budget(0.1, 10, "cw")
    with pytest.raises(ValueError, match="steps must be"):
        check_budget(0.1, 0, "pgd")


def test_transfer_runs_the_perturbed_image_through_other_models(cnn):
    m = cnn.meta
    result = attack(cnn.model, one(), m.mean, m.std, NAMES, eps=0.3)
    others = [(f, load_checkpoint(WEIGHTS / f)) for f in ("mnist-cnn.pt", "mnist-ffnn.pt")]
    rows = transfer(result, [(f, c.model, c.meta.mean, c.meta.std) for f, c in others])
    assert [r.model for r in rows] == ["mnist-cnn.pt", "mnist-ffnn.pt"]
    same = rows[0]  # the attacked model itself: fooled, with the attack's answer
    assert same.fooled and same.original == 1 and same.perturbed == result.predicted
    assert all(0 <= r.confidence <= 1 for r in rows)


# ------------------------------------------------------------------ accuracy under attack

@pytest.fixture(scope="module")
def small_model(fake_data_root):
    bundle = load_bundle("mnist", fake_data_root)
    cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=3, batch_size=32, lr=3e-3,
                      device="cpu", seed=0)
    return train(cfg, bundle).model, bundle


def direct_pgd_correct(model, image, label, eps, steps, mean, std) -> bool:
    """PGD on one image, written out plainly: is it still right after the attack?"""
    x = torch.from_numpy(image.numpy().astype(np.float32) / 255)[None, None]
    adv, size = x.clone(), 2.5 * eps / steps
    for _ in range(steps):
        adv.requires_grad_(True)
        logits = model((adv - mean) / std)
        if int(logits.argmax()) != label:
            return False
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, torch.tensor([label])), adv)
        adv = torch.min(torch.max(adv.detach() + size * grad.sign(), x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        return int(model((adv - mean) / std).argmax()) == label


def test_robust_accuracy_equals_a_direct_computation(small_model):
    model, bundle = small_model
    model.eval()
    spec, n, eps, steps = bundle.spec, 40, 0.15, 10
    result = robust_accuracy(model, bundle.test, spec.mean, spec.std, eps, steps, n,
                             batch_size=16)
    images, labels = bundle.test.images[:n], bundle.test.labels[:n]
    direct = sum(direct_pgd_correct(model, images[i], int(labels[i]), eps, steps, spec.mean,
                                    spec.std) for i in range(n)) / n
    with torch.no_grad():
        x = (images.float() / 255).unsqueeze(1)
        clean = float((model((x - spec.mean) / spec.std).argmax(1) == labels).float().mean())
    assert (result.clean_accuracy, result.robust_accuracy) == (pytest.approx(clean),
                                                               pytest.approx(direct))
    assert result.robust_accuracy < result.clean_accuracy  # the attack did something
    assert result.samples == n and result.steps == steps


def test_robust_accuracy_is_computed_once_then_read_from_the_cache(small_model, tmp_path,
                                                                   monkeypatch):
    model, bundle = small_model
    spec, ckpt = bundle.spec, tmp_path / "m.pt"
    torch.save(model.state_dict(), ckpt)  # any file: the key is its bytes
    args = (bundle.test, spec.mean, spec.std, 0.1, 5, 30)
    assert cached_only(ckpt, *args, folder=tmp_path) is None
    first = robust_cached(model, ckpt, *args, folder=tmp_path)
    calls = []
    monkeypatch.setattr("core.evaluate.robust.robust_accuracy", lambda *a, **k: calls.append(a))
    again = robust_cached(model, ckpt, *args, folder=tmp_path)
    assert not calls and again.robust_accuracy == first.robust_accuracy and again.seconds == 0
    assert cached_only(ckpt, *args, folder=tmp_path) == again
    with pytest.raises(ValueError, match="samples must be from 1 to 100"):
        robust_accuracy(model, bundle.test, spec.mean, spec.std, 0.1, 5, 101)


def test_results_shipped_beside_the_checkpoint_are_used_without_the_model(small_model,
                                                                          tmp_path, monkeypatch):
    from core.evaluate.robust import robust_key, shipped_path, write_shipped
    model, bundle = small_model
    spec, ckpt = bundle.spec, tmp_path / "weights" / "m.pt"
    ckpt.parent.mkdir()
    torch.save(model.state_dict(), ckpt)
    args = (bundle.test, spec.mean, spec.std, 0.1, 5, 30)
    made = robust_accuracy(model, *args)
    path = write_shipped(ckpt, {robust_key(ckpt, *args): made})
    assert path == tmp_path / "weights" / "robust" / "m.json" == shipped_path(ckpt)
    monkeypatch.setattr("core.evaluate.robust.robust_accuracy",
                        lambda *a, **k: pytest.fail("the model ran despite the shipped result"))
    shipped = robust_cached(model, ckpt, *args, folder=tmp_path / "cache")
    assert (shipped.clean_accuracy, shipped.robust_accuracy) == (made.clean_accuracy,
                                                                 made.robust_accuracy)
    assert shipped.seconds == 0 and not (tmp_path / "cache").exists()
    # Another budget, or a retrained checkpoint: not shipped.
    assert cached_only(ckpt, bundle.test, spec.mean, spec.std, 0.2, 5, 30, tmp_path) is None
    ckpt.write_bytes(ckpt.read_bytes() + b"retrained")
    assert cached_only(ckpt, *args, folder=tmp_path / "cache") is None


def test_the_robust_command_prints_clean_and_attacked_accuracy(fake_data_root, tmp_path,
                                                               capsys, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path))
    code = evaluate_main(["robust", "--model", str(WEIGHTS / "mnist-ffnn-small.pt"),
                          "--eps", "0.1", "0.3", "--samples", "20", "--steps", "5",
                          "--data-dir", str(fake_data_root), "--device", "cpu", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["eps"] for r in out["results"]] == [0.1, 0.3]
    assert all(r["samples"] == 20 and r["robust_accuracy"] <= r["clean_accuracy"]
               for r in out["results"])
    assert evaluate_main(["robust", "--model", str(WEIGHTS / "mnist-ffnn-small.pt"),
                          "--eps", "0", "--data-dir", str(fake_data_root)]) == 2
    assert "the budget eps must be more than 0" in capsys.readouterr().err


# ------------------------------------------------------------------ adversarial training

def test_adversarial_settings_are_validated():
    assert TrainConfig(adversarial="fgsm", adv_eps=0.3).adversarial == "fgsm"
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_values({"adversarial": "cw", "adv_eps": 0, "adv_steps": 100})
    assert err.value.problems == {
        "adversarial": "unknown adversarial training 'cw': adversarial must be one of none, "
                       "fgsm, pgd",
        "adv_eps": "adv_eps must be between 0.01 and 0.5, got 0",
        "adv_steps": "adv_steps must be between 1 and 40, got 100",
    }
    # Settings stored before the option existed still load, as standard training.
    assert TrainConfig.from_dict({"dataset": "mnist", "model": "cnn"}).adversarial == "none"


@pytest.mark.parametrize("kind", ["fgsm", "pgd"])
def test_the_training_attack_stays_within_its_budget_in_pixels(small_model, kind):
    model, bundle = small_model
    spec = bundle.spec
    x = (bundle.test.images[:32].float() / 255).unsqueeze(1)
    norm = (x - spec.mean) / spec.std
    adv = training_attack(kind, 0.2, 3, spec.mean, spec.std)(model.train(), norm,
                                                             bundle.test.labels[:32])
    pixels = adv * spec.std + spec.mean
    assert (pixels - x).abs().max() <= 0.2 + 1e-5
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    assert training_attack("none", 0.2, 3, spec.mean, spec.std) is None
    assert not any(p.grad is not None for p in model.parameters())  # nothing accumulated


def test_adversarial_training_trains_on_attacked_batches(fake_data_root, monkeypatch):
    bundle = load_bundle("mnist", fake_data_root)
    seen = []
    import core.train.loop as loop
    real = loop.training_attack

    def counting(*args):
        attack_fn = real(*args)
        return lambda model, x, y: seen.append(len(y)) or attack_fn(model, x, y)

    monkeypatch.setattr(loop, "training_attack", counting)
    cfg = TrainConfig(dataset="mnist", model="ffnn-small", epochs=2, batch_size=32, lr=3e-3,
                      device="cpu", seed=0, adversarial="fgsm", adv_eps=0.1)
    result = train(cfg, bundle)
    assert len(seen) == result.steps == 2 * 13
    assert result.best_val_accuracy > 0.5  # it still learns the (easy) fake classes


def test_the_cli_flags_set_adversarial_training():
    from core.train.cli import config_of, parse_args
    args, _ = parse_args(["--dataset", "mnist", "--model", "cnn", "--adversarial", "fgsm",
                      "--adv-eps", "0.3"])
    cfg = config_of(args)
    assert (cfg.adversarial, cfg.adv_eps) == ("fgsm", 0.3)


def test_the_time_estimate_counts_the_attack():
    from core.server.settings import RunSettings
    from core.train.cost import estimate_minutes
    base = dict(dataset="mnist", model="cnn", epochs=3, device="cpu")
    plain, fgsm, pgd = (estimate_minutes(TrainConfig(**base, **kw), RunSettings())
                        for kw in ({}, {"adversarial": "fgsm"},
                                   {"adversarial": "pgd", "adv_steps": 7}))
    assert 1.7 < fgsm / plain < 2.1 and 6 < pgd / plain < 8.1
