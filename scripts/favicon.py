"""Draw the browser tab's icon, ui/assets/favicon.png: `python -m scripts.favicon`.

A file of our own, served by the app's own server: a ":material/...:" page icon
makes Streamlit's frontend fetch the favicon from Google's font server, which
fails offline. A handwritten 7 in white on the theme's blue.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "ui" / "assets" / "favicon.png"
SIZE, SCALE = 64, 4  # drawn 4x larger, then area-reduced: smooth edges
BLUE = (31, 119, 180, 255)  # .streamlit/config.toml's primaryColor, #1f77b4


def draw() -> Image.Image:
    side = SIZE * SCALE
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, side - 1, side - 1), radius=14 * SCALE, fill=BLUE)
    seven = [(17, 17), (47, 16), (43, 27), (29, 50)]  # in 64 px units
    pen.line([(x * SCALE, y * SCALE) for x, y in seven], fill="white", width=7 * SCALE,
             joint="curve")
    for x, y in (seven[0], seven[-1]):  # round stroke ends
        r = 3.5 * SCALE
        pen.ellipse((x * SCALE - r, y * SCALE - r, x * SCALE + r, y * SCALE + r), fill="white")
    return image.resize((SIZE, SIZE), Image.Resampling.BOX)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    draw().save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
