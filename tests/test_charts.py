"""ui.common.charts figures, checked on the figure objects."""
from __future__ import annotations

import numpy as np
import pytest
from plotly.colors import sample_colorscale

from core.evaluate.compare import row_normalize
from ui.common.charts import DIAGONAL, MISTAKE_SCALE, confusion_heatmap, contrast

NAMES = [str(i) for i in range(10)]


def _matrix() -> np.ndarray:
    """A confusion matrix with one dominant mistake (the darkest cell) and small ones."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 6, (10, 10))
    np.fill_diagonal(counts, 980)
    counts[4, 9] = 60
    return counts


@pytest.mark.parametrize("normalized", [True, False])
def test_every_confusion_cell_label_reads_on_its_colour(normalized):
    """The darkest cell's label was white on red (3.6:1), unreadable."""
    z = np.asarray(row_normalize(_matrix())) if normalized else _matrix().astype(float)
    fig = confusion_heatmap(z, NAMES, normalized)
    top = max(z[r, c] for r in range(10) for c in range(10) if r != c)
    drawn = np.zeros((10, 10), int)
    for trace in (t for t in fig.data if t.type == "heatmap"):
        assert trace.texttemplate == "%{text}"
        cells = np.asarray(trace.z, dtype=float)
        for r, c in zip(*np.nonzero(np.isfinite(cells))):
            drawn[r, c] += 1
            colour = DIAGONAL if r == c else sample_colorscale(MISTAKE_SCALE, cells[r, c] / top)[0]
            assert contrast(trace.textfont.color, colour) >= 4.5, (r, c, trace.textfont.color)
            assert trace.text[r][c] == (f"{z[r, c]:.1%}" if normalized else str(int(z[r, c])))
        if trace.showscale:
            assert trace.zmin == 0 and trace.zmax == pytest.approx(top)  # the scale used above
    assert (drawn == 1).all()  # every cell once


def test_row_normalised_colour_bar_is_in_percent_like_the_cells():
    """The colour bar read 0.006 while the cells read 0.6%."""
    z = np.asarray(row_normalize(_matrix()))
    bar = confusion_heatmap(z, NAMES, normalized=True).data[0].colorbar
    assert bar.tickformat.endswith("%")
    top = max(z[r, c] for r in range(10) for c in range(10) if r != c)
    ticks = np.arange(0, top + 1e-12, bar.dtick)
    assert 3 <= len(ticks) <= 10
    labels = [f"{t:{bar.tickformat}}" for t in ticks]
    assert len(set(labels)) == len(labels), labels
    assert confusion_heatmap(_matrix(), NAMES, normalized=False).data[0].colorbar.tickformat is None


def test_contrast_is_the_wcag_ratio():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#e8553f") < 4.5 < contrast("#000000", "#e8553f")
