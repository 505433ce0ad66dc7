"""Real inputs (canvas drawings, uploaded photos) turned into what the models were trained on.

MNIST digits are white ink on a black background, cropped to the ink, scaled
so the longer side is 20 px and placed in a 28x28 frame with their centre of
mass at pixel (14, 14). Fashion-MNIST garments are bright objects on black,
scaled so the longer side is 28 px and centred by their bounding box. (Those
numbers live in each DatasetSpec: box, centring, noise_floor.) A model
shown anything else (dark ink on white, a digit filling the frame, a stroke in
a corner) is guessing, so every input goes through the same steps:

    decode -> grayscale (transparency = background) -> ink bright on dark
    -> subtract the background, stretch, drop faint noise -> crop
    -> (canvas drawings: strokes thinned or thickened to the dataset's width)
    -> scale with area averaging -> max ink 255 -> place in 28x28 -> normalise

Conventions: a pixel's coordinates are its row and column indices, so pixel
centres sit on integers and the centre of the 28x28 frame is (13.5, 13.5);
MNIST's training digits have their centre of mass at (14.0, 14.0) on average
in this convention (measured on the training set, std 0.3 px), which is the
target used here.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageOps

from core.data import DatasetSpec, get_spec, normalize
from core.predict.strokes import fit_stroke_width

SIZE = 28
# Centring by mass (MNIST's rule) puts the ink's centre of mass here (row, column).
MASS_CENTRE = 14.0

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # bounds decoding memory (RGBA: 160 MB); checked on the header
WORK_MAX_SIDE = 1024  # larger inputs are area-reduced first: the output is 28 px anyway

# What counts as ink. Blank means fewer than MIN_INK_PIXELS pixels stand out
# from the background by BLANK_CONTRAST (of 255), or by NOISE_SIGMAS times the
# background's own noise, whichever is larger: an empty canvas, a photo of
# blank paper, a stray click. Taking the contrast at the MIN_INK_PIXELS-th
# brightest pixel also keeps a few hot pixels from setting the stretch.
# Blank for the noise alone (contrast above BLANK_CONTRAST, yet no more than the
# noise: a photo of static or grain) is reported as `noisy`, not as empty.
BLANK_CONTRAST = 32.0
MIN_INK_PIXELS = 5
NOISE_SIGMAS = 5.0
# After stretching the ink to 0..1, values below the dataset's noise floor (or
# below the background noise, if higher) become 0 and the rest is rescaled.

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # JPEG also opens camera MPO files
FORMATS_TEXT = "PNG, JPEG, GIF, BMP or WebP"

ImageSource = Union[bytes, str, os.PathLike, BinaryIO]


class InputError(ValueError):
    """The input cannot be used; the message says why, in words for the user."""


@dataclass
class Preprocessed:
    tensor: torch.Tensor  # (1, 1, 28, 28) float, normalised with the dataset's mean/std
    image: np.ndarray  # (28, 28) uint8, what the model sees (ink bright on dark)
    blank: bool  # no ink found: tensor and image are zeros; do not classify
    # Blank because nothing stands out of a noisy background (a photo of static, grain):
    # "no clear object (too noisy)", not "empty". Always False when not blank.
    noisy: bool = False


# ---------------------------------------------------------------- decoding

def load_image(data: ImageSource) -> Image.Image:
    """Decode an uploaded image safely: size limits, EXIF orientation, first frame.

    Accepts raw bytes, a path, or a binary file object (a Streamlit
    UploadedFile is read whole, whatever its position). Raises InputError
    for empty, oversized, unreadable, corrupt or non-image input.
    """
    name, raw = _read_bytes(data)
    if not raw:
        raise InputError(f"{name} is empty")
    image = _open_checked(name, raw)
    try:
        image.seek(0)  # the first frame of an animated GIF or WebP
        image.load()
    except Exception as err:  # decoders of untrusted bytes fail in many ways
        raise InputError(f"{name} could not be decoded (corrupt or truncated?): {err}") from None
    try:
        # Phones store photos sideways plus an orientation tag; show them upright.
        return ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block should not cost the picture
        return image.copy()


def _read_bytes(data: ImageSource) -> tuple[str, bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        name = "the file"
    elif isinstance(data, (str, os.PathLike)):
        path = Path(data)
        name = path.name or str(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:  # do not even read it
                raise InputError(_too_big_message(name, path.stat().st_size))
            raw = path.read_bytes()
        except OSError as err:
            raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    else:
        name = Path(str(getattr(data, "name", "") or "the file")).name
        # getvalue() ignores the stream position: Streamlit reruns hand over an
        # UploadedFile that an earlier run may already have read to the end.
        try:
            raw = bytes(data.getvalue() if hasattr(data, "getvalue")
                        else data.read(MAX_FILE_BYTES + 1))
        except (OSError, TypeError, ValueError) as err:  # closed, text-mode, failing stream
            raise InputError(f"cannot read {name}: {err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(_too_big_message(name, len(raw)))
    return name, raw


def _too_big_message(name: str, size: int) -> str:
    return (f"{name} is {size / 2**20:.1f} MB; images up to "
            f"{MAX_FILE_BYTES // 2**20} MB are accepted")


def _open_checked(name: str, raw: bytes) -> Image.Image:
    """Read the header only, and refuse huge images before any pixel is decoded."""
    try:
        # PIL warns above ~89 Mpx and raises above twice that. Our own limit is
        # lower and checked right below, so its warning would only be noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
    except Image.DecompressionBombError:
        raise InputError(f"{name} is far too large (over {MAX_PIXELS // 10**6} megapixels); "
                         "please resize it") from None
    except Exception:  # UnidentifiedImageError, or a plugin choking on a bad header
        raise InputError(f"{name} is not an image ({FORMATS_TEXT})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} "
                         f"megapixels); the limit is {MAX_PIXELS // 10**6} megapixels, "
                         "please resize it")
    if width == 0 or height == 0:
        raise InputError(f"{name} has no pixels")
    return image


def _standard_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA, 8 bits per channel, whatever the file's mode."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        if image.mode in ("L", "RGB") and "transparency" in image.info:
            return image.convert("RGBA")  # a transparent colour key (tRNS)
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return _sixteen_bit_to_l(image)
    if image.mode in ("P", "PA", "La", "RGBa") or "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")  # 1, CMYK, YCbCr, LAB, HSV


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float grayscale scaled (not clipped) to 8 bits."""
    values = np.asarray(image, dtype=np.float64)
    top = values.max(initial=0.0)
    if image.mode == "F" and top <= 1.0:
        values = values * 255.0  # float images usually hold 0..1
    elif top > 65535:
        values = values * (255.0 / top)
    elif top > 255:
        values = values / 257.0  # 0..65535 -> 0..255
    return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))  # mode L


def _shrink(image: Image.Image) -> Image.Image:
    """Area-reduce large inputs: the result is 28 px, and numpy copies of 40 Mpx are not free."""
    longest = max(image.size)
    if longest <= WORK_MAX_SIDE:
        return image
    scale = WORK_MAX_SIDE / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)  # RGBA is resized premultiplied


# ------------------------------------------------------ pixels to ink image

def _as_0_255(values: np.ndarray) -> np.ndarray:
    """float64 in 0..255; float arrays whose values all lie in 0..1 are taken as 0..1."""
    values = np.asarray(values)
    scaled = values.astype(np.float64)
    if values.dtype.kind == "f" and scaled.max(initial=0.0) <= 1.0:
        scaled *= 255.0
    return scaled


def _gray_from_array(pixels: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) array -> float64 (H, W) gray 0..255, transparency removed."""
    pixels = np.asarray(pixels)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 2, 3, 4)):
        raise InputError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image array, "
                         f"got shape {pixels.shape}")
    if pixels.size == 0:
        raise InputError("the image has no pixels")
    values = _as_0_255(pixels)
    if values.ndim == 2:
        return values
    channels = values.shape[2]
    has_alpha = channels in (2, 4)
    colour = values[..., :channels - 1] if has_alpha else values
    gray = colour.mean(2) if colour.shape[2] == 1 else (
        colour[..., :3] @ np.array([0.299, 0.587, 0.114]))  # ITU-R 601 luma, as PIL's "L"
    if not has_alpha:
        return gray
    return _composite(gray, values[..., -1] / 255.0)


def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten transparency so that transparent pixels become background.

    The matte is whichever of black or white contrasts with what is visible:
    black strokes on a transparent PNG land on white, white canvas strokes on
    transparent land on black; either way the ink stays ink. Opaque images
    are unchanged.
    """
    if alpha.min() >= 1.0:
        return gray
    weight = alpha.sum()
    if weight <= 0:  # nothing visible at all: an empty, fully transparent canvas
        return np.zeros_like(gray)
    visible_brightness = float((gray * alpha).sum() / weight)
    matte = 0.0 if visible_brightness > 127.5 else 255.0
    return gray * alpha + matte * (1.0 - alpha)


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _invert_light_background(gray: np.ndarray) -> np.ndarray:
    """Ink bright on dark: invert when the background (the median of the border
    pixels) is light. Paper, whiteboards and product photos are light with dark
    ink; the models were trained on the opposite."""
    if np.median(_border(gray)) > 127.5:
        return 255.0 - gray
    return gray


@dataclass
class _Contrast:
    """How far the brightest ink stands out of the background, and of its noise (0..255)."""
    background: float  # the median of the border pixels
    noise: float  # NOISE_SIGMAS robust sigmas of the border: what ink has to beat
    level: float  # the MIN_INK_PIXELS-th brightest value above the background

    @property
    def has_ink(self) -> bool:
        return self.level >= max(BLANK_CONTRAST, self.noise)

    @property
    def noise_hides_ink(self) -> bool:
        """Bright enough to be ink on a clean background, but no brighter than the noise."""
        return BLANK_CONTRAST <= self.level < self.noise


def _contrast(ink: np.ndarray) -> _Contrast:
    """`ink` is float 0..255, bright on dark, at least MIN_INK_PIXELS pixels."""
    border = _border(ink)
    background = float(np.median(border))
    # The border's spread (a robust sigma: 1.4826 * median absolute deviation)
    # is what paper texture, sensor noise and uneven light look like; ink has
    # to stand out from it. Zero for a clean canvas.
    noise = NOISE_SIGMAS * 1.4826 * float(np.median(np.abs(border - background)))
    above = np.clip(ink - background, 0.0, None)
    # The MIN_INK_PIXELS-th brightest value: a few hot pixels cannot fake ink or set the scale.
    return _Contrast(background, noise, kth_largest(above, MIN_INK_PIXELS))


def kth_largest(values: np.ndarray, k: int) -> float:
    """The k-th largest of `values` (all >= 0, at least k of them), selected among the
    positive ones only: the same number, but numpy's partition slows down a hundredfold
    on the many equal zeros of a drawing's background (33 ms against 0.5 ms on a
    280x280 canvas, measured)."""
    flat = values.ravel()
    positive = flat[flat > 0]
    if positive.size < k:
        return 0.0
    return float(np.partition(positive, -k)[-k])


def _clean_ink(ink: np.ndarray, noise_floor: float) -> np.ndarray | None:
    """Background to 0 and ink stretched to 0..1, or None when there is no ink.

    `ink` is float 0..255, bright on dark.
    """
    if ink.size < MIN_INK_PIXELS:
        return None
    contrast = _contrast(ink)
    if not contrast.has_ink:
        return None
    floor = max(noise_floor, contrast.noise / contrast.level)
    stretched = np.clip((ink - contrast.background) / contrast.level, 0.0, 1.0)
    return np.clip((stretched - floor) / (1.0 - floor), 0.0, 1.0)


def _too_noisy(ink: np.ndarray) -> bool:
    """For an input found blank: was it empty, or did noise hide whatever is there?"""
    return ink.size >= MIN_INK_PIXELS and _contrast(ink).noise_hides_ink


# ------------------------------------------------------ geometry (28 x 28)

def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.any(1))
    cols = np.flatnonzero(ink.any(0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _scale_longer_side(patch: np.ndarray, longer: int) -> np.ndarray:
    """Resize keeping the aspect ratio, so that max(height, width) == longer.

    Shrinking uses area averaging (BOX): a 1 px stroke on a 280 px canvas
    becomes a dim but present line instead of disappearing between samples,
    and no resampling kernel rings below zero. Enlarging uses bilinear.
    """
    height, width = patch.shape
    scale = longer / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL: (w, h)
    size = (min(size[0], longer), min(size[1], longer))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(patch.astype(np.float32)).resize(size, resample)  # mode F
    return np.asarray(resized, dtype=np.float64)


def _to_uint8_full_range(patch: np.ndarray) -> np.ndarray:
    """Brightest ink to 255, as in (almost) every MNIST and Fashion-MNIST image.

    Rounding up, not to nearest: every pixel that received any ink stays
    non-zero, so the edge rows of the crop survive and the bounding box is
    exactly the intended 20 (or 28) px, as it is in 99.98% of MNIST digits.
    """
    patch = np.clip(patch, 0.0, None)
    top = patch.max(initial=0.0)
    if top <= 0:
        return np.zeros(patch.shape, np.uint8)
    return np.clip(np.ceil(patch * (255.0 / top) - 1e-9), 0, 255).astype(np.uint8)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean pixel index; pixel centres are integers."""
    weights = np.asarray(image, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return ((weights.shape[0] - 1) / 2, (weights.shape[1] - 1) / 2)
    rows = np.arange(weights.shape[0]) @ weights.sum(1) / total
    cols = np.arange(weights.shape[1]) @ weights.sum(0) / total
    return float(rows), float(cols)


def _paste(patch: np.ndarray, top: int, left: int) -> np.ndarray:
    frame = np.zeros((SIZE, SIZE), np.uint8)
    height, width = patch.shape
    top = int(np.clip(top, 0, SIZE - height))  # clamped: the whole patch stays in frame
    left = int(np.clip(left, 0, SIZE - width))
    frame[top:top + height, left:left + width] = patch
    return frame


def preprocess_gray(gray: np.ndarray, dataset: str) -> np.ndarray:
    """Grayscale, ink bright on dark (any size; uint8, or float 0..255 or 0..1)
    -> 28x28 uint8 the way the dataset's images were made.

    Crop to the ink, longer side to the spec's box (MNIST 20 px, Fashion 28 px),
    then centre: by mass at (14, 14) with a whole-pixel shift (clamped so the
    object stays in the frame), or by the bounding box. All zeros when there is
    no ink.
    """
    return _to_frame(_as_0_255(gray), get_spec(dataset))


def _to_frame(gray: np.ndarray, spec: DatasetSpec, redraw_strokes: bool = False) -> np.ndarray:
    """Float 0..255 in: the entry points have already scaled, so no 0..1 guessing here.

    redraw_strokes: draw the strokes again at the dataset's typical width (see
    core.predict.strokes), for drawings made with a fixed brush.
    """
    ink = _clean_ink(gray, spec.noise_floor)
    if ink is None:
        return np.zeros((SIZE, SIZE), np.uint8)
    crop = _crop_to_ink(ink)
    if redraw_strokes and spec.stroke_width:
        crop = fit_stroke_width(crop, spec.box, spec.stroke_width)
    patch = _to_uint8_full_range(_scale_longer_side(crop, spec.box))
    if spec.centring == "mass":
        row, col = centre_of_mass(patch)
        return _paste(patch, int(np.floor(MASS_CENTRE - row + 0.5)),
                      int(np.floor(MASS_CENTRE - col + 0.5)))
    height, width = patch.shape
    return _paste(patch, (SIZE - height) // 2, (SIZE - width) // 2)


# ------------------------------------------------------------ entry points

def _finish(gray: np.ndarray, dataset: str, mean: float | None,
            std: float | None, redraw_strokes: bool = False) -> Preprocessed:
    spec = get_spec(dataset)  # ValueError for an unknown dataset
    mean = spec.mean if mean is None else mean
    std = spec.std if std is None else std
    ink = _invert_light_background(gray)
    image = _to_frame(ink, spec, redraw_strokes)
    if not image.any():  # the preprocessors keep any ink non-zero, so zeros means blank
        return Preprocessed(torch.zeros(1, 1, SIZE, SIZE), image, blank=True,
                            noisy=_too_noisy(ink))
    return Preprocessed(normalize(torch.from_numpy(image)[None], mean, std), image, blank=False)


def from_canvas(rgba: np.ndarray, dataset: str = "mnist", *, mean: float | None = None,
                std: float | None = None, redraw_strokes: bool = True) -> Preprocessed:
    """A drawing canvas's RGBA array (H, W, 4) uint8 -> model input.

    Any stroke colour on any background works: fully transparent pixels are
    background, and a light background is inverted. mean/std default to the
    dataset's (pass a checkpoint's meta.mean/meta.std to use those).

    The canvas brush has a fixed width, so a small drawing scaled up to the
    box would get strokes far thicker than the dataset's: with redraw_strokes
    (the default) they are redrawn at the dataset's typical width
    (DatasetSpec.stroke_width); False scales the drawing as it is.
    """
    return _finish(_gray_from_array(rgba), dataset, mean, std, redraw_strokes)


def from_image(image: Image.Image | ImageSource, dataset: str, *, mean: float | None = None,
               std: float | None = None) -> Preprocessed:
    """An uploaded image (PIL image, bytes, path or file object) -> model input.

    Raises InputError when the file cannot be used (see load_image).
    """
    if not isinstance(image, Image.Image):
        image = load_image(image)
    pixels = np.asarray(_shrink(_standard_mode(image)))
    return _finish(_gray_from_array(pixels), dataset, mean, std)
