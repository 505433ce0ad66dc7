"""Out-of-distribution inputs: to train "I don't know" (outlier exposure), to choose its
threshold, and to measure it (core.predict.ood).

Every set is (N, 28, 28) uint8, made the way the app would show it to a model of
`dataset`: drawn on the canvas and preprocessed by core.predict.preprocess.from_canvas
(cropped, strokes brought to the dataset's width, scaled, centred), or, for images,
preprocessed as an upload is.

    other        the other dataset's training images (garments for digit models and back)
    letters      A-Z, a-z from the DejaVu fonts, drawn as strokes or as the filled glyph,
                 random size, slant and brush; letters a digit model could fairly call a
                 digit (O, l, S, ...) are left out
    unseen_font  the same letters from the Liberation fonts
    scribble     1-3 random strokes
    pair         two of the model's own training images side by side
    doodle       pictures drawn with a few strokes: smileys, #, houses, suns, ...
    drawn_digit  (garment models only) MNIST digits redrawn as canvas strokes
and, for training only:
    shape        triangles, squares, stars, crosses, zigzags, waves, spirals, dots, bumpy loops
    composition  3-6 random parts (rings, arcs, segments, dots, boxes) scattered at random
    crop         a corner quarter of one of the model's own training images, enlarged
    texture      noise, stripes, checks, blobs

`part` picks disjoint material: "train" for outlier exposure, "val" for choosing,
"test" for reporting. The other dataset's 60,000 training images are cut in three
(40,000 / 10,000 / 10,000); everything else is drawn from its own seed per part.
Nothing comes from a test split. The unseen fonts and the doodles have no "train"
part: they measure what training never showed (HELD_OUT).
"""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageFont

from core.data import DATASETS, load_bundle, load_split
from core.evaluate.predictions import cache_dir
from core.machine.files import atomic_write
from core.predict import doodles
from core.predict.photos import garment_photo
from core.predict.preprocess import from_canvas, preprocess_gray
from core.predict.redraw import as_rgba, glyph, random_drawing, redraw, skeleton_points

MEASURED = ("other", "letters", "unseen_font", "scribble", "pair", "doodle")
GARMENT_EXTRA = ("drawn_digit",)  # digits drawn on the canvas, for garment models
TRAINING = ("other", "letters", "scribble", "shape", "composition", "pair", "crop", "texture")
HELD_OUT = ("unseen_font", "doodle")  # never in a "train" part
KINDS = MEASURED  # the families every model is measured on
PARTS = ("train", "val", "test")
STROKE = 20  # the brush of draw_scribble (ui.classify.canvas.STROKE was 20)
FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
TRAINING_FONTS = "DejaVu"  # letters to train on and to choose with
UNSEEN_FONTS = "Liberation"  # letters to measure on only
# Shapes that are digits in some handwriting: no detector should be asked to flag them.
DIGIT_LIKE = set("OoDQIlijJSsZzBbGgqT")
LETTERS = "".join(c for c in string.ascii_letters if c not in DIGIT_LIKE)
_SEEDS = {"val": 0, "test": 1, "train": 2}
# The other dataset's training images, by part: [start, stop)
_OTHER_CHUNKS = {"train": (0, 40_000), "val": (40_000, 50_000), "test": (50_000, 60_000)}


# A corner of a garment is still much like a garment (a quarter of a bag, a trouser leg):
# garment models are not taught to shrug at crops.
NOT_TRAINED = {"fashion": ("crop",)}


def kinds_for(dataset: str, part: str = "val") -> tuple[str, ...]:
    """The families a model of `dataset` is measured on ("val", "test") or trained on."""
    if part == "train":
        base = tuple(k for k in TRAINING if k not in NOT_TRAINED.get(dataset, ()))
    else:
        base = MEASURED
    return base + (GARMENT_EXTRA if dataset == "fashion" else ())


def _rng(kind: str, part: str) -> np.random.Generator:
    return np.random.default_rng([_SEEDS[part], sum(map(ord, kind))])


def _other_images(dataset: str, n: int, part: str, root) -> tuple[str, np.ndarray]:
    other = next(name for name in DATASETS if name != dataset)
    full = load_split(other, train=True, root=root, download=False)
    start, stop = _OTHER_CHUNKS[part]
    start, stop = min(start, len(full)), min(stop, len(full))
    if stop <= start:  # a small data set (the tests' fake one): thirds of it
        third = max(1, len(full) // 3)
        start = {"train": 0, "val": third, "test": 2 * third}[part]
        stop = min(len(full), start + third)
    index = _rng("other", part).choice(np.arange(start, stop), min(n, stop - start), replace=False)
    return other, full.images[np.sort(index)].numpy()


def _other(dataset: str, n: int, part: str, root) -> np.ndarray:
    _, images = _other_images(dataset, n, part, root)
    return np.stack([preprocess_gray(image, dataset) for image in images])


def _drawn_digits(dataset: str, n: int, part: str, root) -> np.ndarray:
    _, images = _other_images(dataset, n, part, root)
    rng = _rng("drawn_digit", part)
    return np.stack([redraw(image, rng, dataset) for image in images])


@lru_cache(maxsize=4)
def fonts(family: str) -> tuple[Path, ...]:
    """The TrueType files of a font family found on this machine (may be empty)."""
    for folder in FONT_DIRS:
        found = tuple(sorted(p for p in folder.rglob(f"{family}*.ttf")
                             if "Math" not in p.name))
        if found:
            return found
    return ()


def _font(path: Path | None, size: int) -> ImageFont.ImageFont:
    if path is None:  # no such fonts here: PIL's own font (scalable since Pillow 10.1)
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def render_letter(letter: str, font: Path | None, size: int, angle: float,
                  dataset: str) -> np.ndarray:
    """One letter as a filled glyph, white on a black canvas, tilted by `angle` degrees,
    preprocessed as a canvas drawing is."""
    canvas = Image.fromarray(glyph(letter, _font(font, size)))
    canvas = canvas.rotate(angle, resample=Image.Resampling.BILINEAR)
    return from_canvas(as_rgba(np.asarray(canvas)), dataset).image


def drawn_letter(letter: str, font: Path | None, rng: np.random.Generator,
                 dataset: str) -> np.ndarray:
    """One letter as a person draws it: the glyph's centre lines drawn with a round brush
    at a random size, slant, place and width, half the time; else the filled glyph."""
    size, angle = int(rng.integers(120, 220)), float(rng.uniform(-15, 15))
    if rng.random() < 0.5:
        return render_letter(letter, font, size, angle, dataset)
    shape = Image.fromarray(glyph(letter, _font(font, size))).rotate(
        angle, resample=Image.Resampling.BILINEAR).resize((70, 70), Image.Resampling.BOX)
    points = skeleton_points(np.asarray(shape), upsample=2)
    if len(points) == 0:
        return render_letter(letter, font, size, angle, dataset)
    return random_drawing(points, rng, dataset)


def _letters(dataset: str, n: int, part: str, family: str = TRAINING_FONTS) -> np.ndarray:
    rng = _rng(f"letters-{family}", part)
    found = fonts(family) or (None,)
    return np.stack([drawn_letter(LETTERS[int(rng.integers(len(LETTERS)))],
                                  found[int(rng.integers(len(found)))], rng, dataset)
                     for _ in range(n)])


def draw_scribble(rng: np.random.Generator, dataset: str) -> np.ndarray:
    """1-3 random strokes drawn on the canvas, preprocessed."""
    return from_canvas(doodles.draw_scribble(rng), dataset).image


def _drawn(maker: Callable[[np.random.Generator], np.ndarray], kind: str, dataset: str, n: int,
           part: str) -> np.ndarray:
    rng = _rng(kind, part)
    return np.stack([from_canvas(maker(rng), dataset).image for _ in range(n)])


def _pairs(dataset: str, n: int, part: str, root) -> np.ndarray:
    train = load_bundle(dataset, root=root, download=False).train.images
    rng = _rng("pair", part)
    index = rng.choice(len(train), size=(n, 2))
    return np.stack([preprocess_gray(np.hstack([train[a].numpy(), train[b].numpy()]), dataset)
                     for a, b in index])


def _crops(dataset: str, n: int, part: str, root) -> np.ndarray:
    """A corner quarter (14x14, moved up to 3 px) of a training image, framed as an input."""
    train = load_bundle(dataset, root=root, download=False).train.images.numpy()
    rng = _rng("crop", part)
    out = []
    while len(out) < n:
        image = train[int(rng.integers(len(train)))]
        top, left = (int(rng.integers(2)) * 14 + int(rng.integers(-3, 4)) for _ in range(2))
        top, left = int(np.clip(top, 0, 14)), int(np.clip(left, 0, 14))
        piece = image[top:top + 14, left:left + 14]
        if (piece > 127).sum() < 8:  # mostly background: not a crop of the object
            continue
        out.append(preprocess_gray(piece, dataset))
    return np.stack(out)


def _textures(dataset: str, n: int, part: str) -> np.ndarray:
    rng = _rng("texture", part)
    out = []
    while len(out) < n:
        image = preprocess_gray(doodles.texture(rng), dataset)
        if image.any():  # a texture the app would find blank is never classified
            out.append(image)
    return np.stack(out)


def build_one(kind: str, dataset: str, n: int, part: str, root=None) -> np.ndarray:
    """(n, 28, 28) uint8 inputs of one family."""
    if part not in _SEEDS:
        raise ValueError(f"part must be one of {list(_SEEDS)}, got {part!r}")
    if part == "train" and kind in HELD_OUT:
        raise ValueError(f"{kind} is held out of training: it has no train part")
    makers: dict[str, Callable[[], np.ndarray]] = {
        "other": lambda: _other(dataset, n, part, root),
        "letters": lambda: _letters(dataset, n, part),
        "unseen_font": lambda: _letters(dataset, n, part, UNSEEN_FONTS),
        "scribble": lambda: _drawn(doodles.draw_scribble, "scribble", dataset, n, part),
        "pair": lambda: _pairs(dataset, n, part, root),
        "doodle": lambda: _drawn(lambda r: doodles.draw_family(doodles.DOODLES, r), "doodle",
                                 dataset, n, part),
        "shape": lambda: _drawn(lambda r: doodles.draw_family(doodles.SHAPES, r), "shape",
                                dataset, n, part),
        "composition": lambda: _drawn(doodles.composition_on_canvas, "composition", dataset,
                                      n, part),
        "crop": lambda: _crops(dataset, n, part, root),
        "texture": lambda: _textures(dataset, n, part),
        "drawn_digit": lambda: _drawn_digits(dataset, n, part, root),
    }
    if kind not in makers:
        raise ValueError(f"unknown OOD family {kind!r}")
    return np.ascontiguousarray(makers[kind]())


def build_ood_sets(dataset: str, n: int = 1000, part: str = "val",
                   root=None, kinds: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """{kind: (n, 28, 28) uint8 images} of inputs a model of `dataset` does not know."""
    if part not in _SEEDS:
        raise ValueError(f"part must be one of {list(_SEEDS)}, got {part!r}")
    return {kind: torch.from_numpy(build_one(kind, dataset, n, part, root))
            for kind in (kinds or kinds_for(dataset, part))}


SETS_VERSION = 1  # bump when a generator changes: cached sets are then made again


def cached_ood_sets(dataset: str, n: int, part: str, root=None, cache=None,
                    kinds: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """build_ood_sets, kept in the cache folder's ood-sets/ (the drawn families take
    minutes: every drawing goes through the app's preprocessing)."""
    kinds = kinds or kinds_for(dataset, part)
    folder = cache_dir(cache) / "ood-sets"
    out = {}
    for kind in kinds:
        path = folder / f"{dataset}-{kind}-{part}-{n}-v{SETS_VERSION}.npy"
        try:
            out[kind] = torch.from_numpy(np.load(path))
            continue
        except (OSError, ValueError):
            pass
        images = build_one(kind, dataset, n, part, root)
        atomic_write(path, lambda f: np.save(f, images))
        out[kind] = torch.from_numpy(images)
    return out


def redraws(images: np.ndarray, dataset: str, seed: int = 0) -> np.ndarray:
    """In-distribution images as a person gives them to the app, preprocessed as the app
    does: digits drawn on the canvas, garments photographed for an upload (Fashion's
    Classify has no canvas)."""
    rng = np.random.default_rng(seed)
    if dataset == "fashion":
        return np.stack([garment_photo(image, rng) for image in images])
    return np.stack([redraw(image, rng, dataset) for image in images])
