"""core.predict.preprocess: real inputs become MNIST / Fashion-MNIST-like 28x28 images.

Conventions used in these tests (the same as the module's): a pixel's
coordinates are its (row, column) indices, the centre of mass is the
intensity-weighted mean of those indices, and MNIST puts it at (14, 14).
The bounding box counts pixels > 0 (the module rounds any ink up to >= 1).
"""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.data import get_spec
from core.networks.models import build_model
from core.predict.classify import probabilities as predict
from core.predict.preprocess import (MAX_FILE_BYTES, InputError, Preprocessed, from_canvas,
                                     from_image, load_image, preprocess_gray)

CANVAS = 280


# ------------------------------------------------------------------ helpers

def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    w = image.astype(np.float64)
    rows, cols = np.indices(w.shape)
    return float((rows * w).sum() / w.sum()), float((cols * w).sum() / w.sum())


def bbox_size(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of the pixels > 0."""
    rows, cols = np.nonzero(image)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def canvas_with(draw, background=(0, 0, 0, 0), size=CANVAS) -> np.ndarray:
    """An RGBA array like the drawing canvas sends, drawn with PIL."""
    img = Image.new("RGBA", (size, size), background)
    draw(ImageDraw.Draw(img))
    return np.asarray(img).copy()


def white_stroke(points, width=12):
    return lambda d: d.line(points, fill=(255, 255, 255, 255), width=width)


def black_on_white_digit(mode: str = "L", size=(120, 90)) -> Image.Image:
    """A dark "0"-like ring, off-centre, on a white page."""
    img = Image.new("L", size, 255)
    ImageDraw.Draw(img).ellipse([15, 10, 55, 70], outline=0, width=6)
    if mode == "P":
        return img.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    return img.convert(mode)


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height: only the header, as a bomb would."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def assert_digit_like(pre: Preprocessed) -> None:
    assert not pre.blank
    assert pre.image.shape == (28, 28) and pre.image.dtype == np.uint8
    assert pre.image.max() == 255
    assert max(bbox_size(pre.image)) == 20
    cy, cx = centre_of_mass(pre.image)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


# ------------------------------------------------------------- the canvas

@pytest.mark.parametrize("background", [(0, 0, 0, 0), (0, 0, 0, 255)],
                         ids=["transparent", "opaque-black"])
@pytest.mark.parametrize("points", [[(30, 20), (50, 70)], [(180, 240), (260, 250)]],
                         ids=["tall-top-left", "wide-bottom-right"])
def test_small_off_centre_stroke_is_scaled_to_20px_and_centred(background, points):
    pre = from_canvas(canvas_with(white_stroke(points, width=8), background))
    assert_digit_like(pre)
    # The longer side is exactly 20 (not 19 or 21): the module rounds any
    # ink up to >= 1, so the crop's faint antialiased edge rows survive, and
    # the patch is exactly 20 px, so nothing spills beyond them.
    height, width = bbox_size(pre.image)
    dy, dx = points[1][1] - points[0][1], points[1][0] - points[0][0]
    assert (height == 20) == (abs(dy) >= abs(dx))
    assert (width == 20) == (abs(dx) >= abs(dy))
    # Whole-pixel shifts: the centre of mass lands within half a pixel of (14, 14).
    cy, cx = centre_of_mass(pre.image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_one_pixel_stroke_on_a_280_canvas_survives_downscaling():
    pre = from_canvas(canvas_with(white_stroke([(40, 60), (220, 230)], width=1)))
    assert_digit_like(pre)
    assert (pre.image > 64).sum() >= 15  # a visible line, not a few faint dots


def test_black_strokes_on_white_canvas_are_inverted():
    black = lambda d: d.line([(100, 60), (120, 220)], fill=(0, 0, 0, 255), width=14)
    pre = from_canvas(canvas_with(black, background=(255, 255, 255, 255)))
    assert_digit_like(pre)
    assert pre.image[0, 0] == 0


@pytest.mark.parametrize("rgba", [
    np.zeros((CANVAS, CANVAS, 4), np.uint8),                       # transparent black
    np.full((CANVAS, CANVAS, 4), (255, 255, 255, 0), np.uint8),    # transparent white
    np.full((CANVAS, CANVAS, 4), (0, 0, 0, 255), np.uint8),        # opaque black
    np.full((CANVAS, CANVAS, 4), 255, np.uint8),                   # opaque white
], ids=["transparent-black", "transparent-white", "black", "white"])
def test_empty_canvas_is_blank(rgba):
    pre = from_canvas(rgba)
    assert pre.blank
    assert not pre.image.any() and not pre.tensor.any()
    assert pre.image.shape == (28, 28) and pre.tensor.shape == (1, 1, 28, 28)


def test_a_few_stray_pixels_are_blank():
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[[10, 100, 200], [50, 150, 250]] = 255  # three clicks' worth of dust
    assert from_canvas(rgba).blank


def test_faint_noise_on_paper_is_blank():
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(200, 6, (300, 400)), 0, 255).astype(np.uint8)
    assert from_image(Image.fromarray(paper), "mnist").blank


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_a_noise_photo_is_too_noisy_not_blank(dataset):
    """A 640x480 photo of static has no clear object, but is not empty."""
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    pre = from_image(_jpeg(noise), dataset)
    assert pre.blank and pre.noisy  # nothing to classify, and core says why


@pytest.mark.parametrize("pixels", [
    np.full((480, 640, 3), 255, np.uint8),  # blank paper
    np.clip(np.random.default_rng(0).normal(200, 6, (300, 400)), 0, 255).astype(np.uint8),
    np.zeros((480, 640), np.uint8),
], ids=["white", "faint-noise-paper", "black"])
def test_an_empty_photo_is_blank_not_noisy(pixels):
    pre = from_image(_jpeg(pixels), "mnist")
    assert pre.blank and not pre.noisy


def test_a_drawing_is_neither_blank_nor_noisy():
    pre = from_canvas(canvas_with(white_stroke([(100, 50), (150, 230)])))
    assert not pre.blank and not pre.noisy


def test_normalised_with_dataset_mean_and_std():
    pre = from_canvas(canvas_with(white_stroke([(100, 50), (150, 230)])), "mnist")
    spec = get_spec("mnist")
    assert pre.tensor.shape == (1, 1, 28, 28) and pre.tensor.dtype == torch.float32
    assert pre.tensor[0, 0, 0, 0].item() == pytest.approx((0 - spec.mean) / spec.std, abs=1e-6)
    assert pre.tensor.max().item() == pytest.approx((1 - spec.mean) / spec.std, abs=1e-6)
    expected = (torch.from_numpy(pre.image).float() / 255 - spec.mean) / spec.std
    assert torch.allclose(pre.tensor[0, 0], expected, atol=1e-6)


def test_explicit_mean_and_std_override_the_dataset():
    pre = from_canvas(canvas_with(white_stroke([(100, 50), (150, 230)])), mean=0.5, std=0.25)
    assert pre.tensor[0, 0, 0, 0].item() == pytest.approx(-2.0)


# ---------------------------------------------------------------- uploads

def test_black_on_white_png_is_inverted():
    pre = from_image(encode(black_on_white_digit(), "PNG"), "mnist")
    assert_digit_like(pre)
    border = np.concatenate([pre.image[0], pre.image[-1], pre.image[:, 0], pre.image[:, -1]])
    assert not border.any()  # background 0, ink bright


def test_photo_of_paper_loses_its_background_noise():
    rng = np.random.default_rng(1)
    page = np.asarray(black_on_white_digit(size=(200, 160)), np.float64)
    page = page * 0.6 + 90 + rng.normal(0, 8, page.shape)  # grey paper, grey ink, noise
    page += np.linspace(-15, 15, page.shape[1])  # uneven lighting
    photo = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).convert("RGB")
    pre = from_image(encode(photo, "JPEG", quality=80), "mnist")
    assert_digit_like(pre)
    ring = pre.image[4:24, 4:24]
    assert ring[8:12, 8:12].max() == 0  # the hole of the "0" is clean background


def test_transparent_png_with_black_strokes():
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(30, 10), (40, 90)], fill=(0, 0, 0, 255), width=6)
    assert_digit_like(from_image(encode(img, "PNG"), "mnist"))


def test_transparent_png_with_white_strokes():
    img = Image.new("RGBA", (100, 100), (255, 255, 255, 0))
    ImageDraw.Draw(img).line([(30, 10), (40, 90)], fill=(255, 255, 255, 255), width=6)
    assert_digit_like(from_image(encode(img, "PNG"), "mnist"))


def test_palette_png_with_a_transparent_index():
    img = Image.new("P", (100, 100), 0)
    img.putpalette([0, 0, 0, 20, 20, 20] + [0] * 762)
    ImageDraw.Draw(img).line([(30, 10), (40, 90)], fill=1, width=6)
    pre = from_image(encode(img, "PNG", transparency=0), "mnist")
    assert_digit_like(pre)


@pytest.mark.parametrize("fmt,mode,params", [
    ("PNG", "L", {}), ("PNG", "RGB", {}), ("PNG", "RGBA", {}), ("PNG", "P", {}),
    ("JPEG", "L", {"quality": 95}), ("JPEG", "RGB", {"quality": 95}),
    ("GIF", "L", {}), ("GIF", "RGB", {}), ("GIF", "P", {}),
    ("BMP", "L", {}), ("BMP", "RGB", {}), ("BMP", "RGBA", {}), ("BMP", "P", {}),
    ("WEBP", "L", {"lossless": True}), ("WEBP", "RGB", {"lossless": True}),
    ("WEBP", "RGBA", {"lossless": True}), ("WEBP", "P", {"lossless": True}),
])
def test_every_accepted_format_round_trips(fmt, mode, params):
    original = black_on_white_digit(mode)
    loaded = load_image(encode(original, fmt, **params))
    assert loaded.size == original.size
    gray = np.asarray(loaded.convert("L"), np.int16)
    expected = np.asarray(original.convert("L"), np.int16)
    assert np.abs(gray - expected).max() <= (40 if fmt == "JPEG" else 0)
    from_file = from_image(loaded, "mnist")
    assert_digit_like(from_file)
    if fmt != "JPEG":
        assert np.array_equal(from_file.image, from_image(original, "mnist").image)


def test_other_modes_cmyk_16_bit_and_la():
    base = black_on_white_digit()
    sixteen = Image.fromarray(np.asarray(base, np.uint16) * 257)  # I;16, 0..65535
    assert sixteen.mode == "I;16"
    for img, fmt in [(base.convert("CMYK"), "JPEG"), (sixteen, "PNG"),
                     (base.convert("LA"), "PNG"), (base.convert("1"), "PNG")]:
        assert_digit_like(from_image(encode(img, fmt), "mnist"))


def test_jpeg_exif_orientation_is_applied():
    stored = Image.new("RGB", (60, 40), "white")  # landscape as stored by the camera
    ImageDraw.Draw(stored).rectangle([0, 0, 14, 9], fill="black")  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    upright = load_image(encode(stored, "JPEG", exif=exif, quality=95))
    assert upright.size == (40, 60)  # portrait
    gray = np.asarray(upright.convert("L"))
    assert gray[:10, -10:].mean() < 60  # the marker is now top-right
    assert gray[:10, :10].mean() > 200


def test_animated_gif_uses_the_first_frame():
    frames = []
    for x in (10, 70):
        frame = Image.new("L", (100, 100), 255)
        ImageDraw.Draw(frame).rectangle([x, 10, x + 20, 90], fill=0)
        frames.append(frame)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    first = np.asarray(load_image(data).convert("L"))
    assert first[50, 15] < 50 and first[50, 75] > 200


def test_paths_and_file_objects_read_to_the_end_are_accepted(tmp_path):
    data = encode(black_on_white_digit(), "PNG")
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    stream.read()  # a Streamlit UploadedFile on a rerun is already at its end
    for source in (path, str(path), stream, open(path, "rb")):
        assert load_image(source).size == (120, 90)


@pytest.mark.parametrize("data", [b"hello, this is not an image\n" * 10,
                                  b"%PDF-1.4\n" + bytes(300),
                                  png_header(50, 50)[:30]],  # a truncated header
                         ids=["text", "pdf", "truncated-header"])
def test_non_image_bytes_raise_input_error(data):
    with pytest.raises(InputError, match=r"not an image \(PNG, JPEG, GIF, BMP or WebP\)"):
        load_image(data)


def test_corrupt_image_data_raises_input_error():
    data = encode(Image.new("RGB", (200, 200), "white"), "JPEG")
    with pytest.raises(InputError, match="corrupt or truncated"):
        load_image(data[:len(data) // 2])


def test_empty_file_raises_input_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty.png is empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="empty"):
        from_image(b"", "mnist")


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_image(tmp_path / "nope.png")


def test_file_over_the_size_limit_raises_input_error():
    with pytest.raises(InputError, match="MB"):
        load_image(b"\x89PNG" + bytes(MAX_FILE_BYTES))


@pytest.mark.parametrize("width,height", [(8000, 6000), (10_000, 10_000), (100_000, 100_000)],
                         ids=["48Mpx-over-our-limit", "100Mpx-PIL-warns", "10Gpx-PIL-refuses"])
def test_huge_declared_dimensions_raise_input_error_not_a_bomb_warning(width, height):
    data = png_header(width, height)
    assert len(data) < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail the test
        with pytest.raises(InputError, match="too large|megapixels"):
            load_image(data)


def test_large_but_allowed_photo_is_processed():
    img = Image.new("L", (3000, 2000), 255)
    ImageDraw.Draw(img).line([(1400, 300), (1500, 1700)], fill=0, width=40)
    assert_digit_like(from_image(encode(img, "PNG"), "mnist"))


# --------------------------------------------------------------- garments

def test_dark_object_on_white_becomes_bright_and_touches_28px():
    photo = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(photo).rectangle([40, 50, 219, 139], fill=(40, 30, 60))  # 180 x 90
    pre = from_image(encode(photo, "PNG"), "fashion")
    assert not pre.blank
    assert bbox_size(pre.image) == (14, 28)
    rows, cols = np.nonzero(pre.image)
    assert rows.min() + rows.max() == 27 and cols.min() + cols.max() == 27  # centred
    assert pre.image[14, 14] == 255 and pre.image[0, 0] == 0
    spec = get_spec("fashion")
    assert pre.tensor[0, 0, 0, 0].item() == pytest.approx((0 - spec.mean) / spec.std, abs=1e-6)


def test_tall_garment_keeps_its_aspect_ratio():
    photo = Image.new("L", (200, 400), 255)
    ImageDraw.Draw(photo).rectangle([70, 20, 129, 379], fill=0)  # 60 x 360
    height, width = bbox_size(from_image(photo, "fashion").image)
    assert height == 28 and width in (4, 5, 6)


def test_blank_product_photo_is_blank():
    assert from_image(Image.new("RGB", (300, 300), "white"), "fashion").blank


# ------------------------------------------- the array-level preprocessors

def test_preprocessors_take_float_or_uint8_bright_on_dark():
    ink = np.zeros((100, 100))
    ink[20:80, 45:55] = 1.0  # float 0..1
    for gray in (ink, (ink * 255).astype(np.uint8)):
        digit = preprocess_gray(gray, "mnist")
        garment = preprocess_gray(gray, "fashion")
        assert digit.dtype == garment.dtype == np.uint8
        assert max(bbox_size(digit)) == 20 and max(bbox_size(garment)) == 28
    assert not preprocess_gray(np.zeros((50, 50)), "mnist").any()


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        from_canvas(np.zeros((10, 10, 4), np.uint8), "cifar")


# ---------------------------------------------------------------- predict

def test_predict_returns_probabilities_and_refuses_blank():
    torch.manual_seed(0)
    model = build_model("ffnn").train()
    pre = from_canvas(canvas_with(white_stroke([(100, 50), (150, 230)])))
    probs = predict(model, pre)
    assert probs.shape == (10,) and probs.dtype == np.float64
    assert probs.sum() == pytest.approx(1.0, abs=1e-12) and (probs >= 0).all()
    assert np.array_equal(probs, predict(model, pre))  # eval mode: dropout off
    assert model.training  # the caller's mode is restored
    with pytest.raises(ValueError, match="blank"):
        predict(model, from_canvas(np.zeros((CANVAS, CANVAS, 4), np.uint8)))


# ----------------------------------------------- against the real datasets

def _idx_images(root, name: str, count: int) -> np.ndarray:
    raw = (root / get_spec(name).folder / "raw" / "t10k-images-idx3-ubyte").read_bytes()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count]


@pytest.mark.parametrize("dataset,tolerance", [("mnist", 15), ("fashion", 25)])
def test_dataset_images_scanned_as_black_on_white_come_back(real_data_root, dataset,
                                                            tolerance):
    """A test image enlarged to 280 px and inverted (a page scan) becomes itself again.

    Mean absolute difference per pixel, 0..255: about 8 (digits) and 16
    (garments) here, against about 40 and 68 between two different images.
    """
    diffs = []
    for original in _idx_images(real_data_root, dataset, 60):
        page = Image.fromarray(original).resize((280, 280), Image.Resampling.BILINEAR)
        scan = Image.fromarray(255 - np.asarray(page))
        pre = from_image(encode(scan, "PNG"), dataset)
        diffs.append(np.abs(pre.image.astype(int) - original).mean())
    assert np.mean(diffs) < tolerance


def test_a_nearly_black_image_is_not_mistaken_for_0_to_1_floats():
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[20:80, 45:55] = 1  # one grey level above black: nothing anyone drew
    assert from_canvas(rgb).blank


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_kth_largest_is_numpys_partition_on_every_kind_of_image(seed):
    """Selecting among the positive values gives the number a full partition gives: mostly
    zeros (a canvas), few or no positives, ties, and no zeros at all."""
    from core.predict.preprocess import kth_largest

    rng = np.random.default_rng(seed)
    cases = [np.zeros((280, 280)), np.zeros(10), rng.random((50, 40)) * 255]
    sparse = np.zeros((280, 280))
    sparse.ravel()[rng.choice(sparse.size, 3000, replace=False)] = rng.random(3000) * 255
    ties = np.zeros((100, 100))
    ties[10:20, 10:20] = 200.0
    few = np.zeros((30, 30))
    few[0, :3] = [5.0, 9.0, 1.0]
    for values in cases + [sparse, ties, few]:
        for k in (1, 5, 7):
            expected = float(np.partition(values.ravel(), -k)[-k])
            assert kth_largest(values, k) == expected
