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


def _reliability():
    """A well-calibrated test set: 9,800 confident images, a few bins of a handful."""
    from core.networks.calibration import Reliability
    edges = [i / 15 for i in range(16)]
    counts = [0] * 15
    accuracy = [float("nan")] * 15
    confidence = [float("nan")] * 15
    for i, n, acc in ((6, 4, 1.0), (9, 12, 0.25), (12, 60, 0.8), (14, 9800, 0.995)):
        counts[i], accuracy[i], confidence[i] = n, acc, (edges[i] + edges[i + 1]) / 2
    return Reliability(edges, confidence, accuracy, counts, ece=0.0012)


def test_the_reliability_diagram_shows_each_bins_count_and_greys_the_small_ones():
    """Bins of a handful of images sat far off the diagonal beside "ECE 0.12%", with
    nothing to say they hold almost no images."""
    from ui.common.charts import BLUE, GREY, RELIABILITY_MIN_IMAGES, reliability_diagram
    (bars, _) = reliability_diagram(_reliability()).data
    assert list(bars.text) == ["4", "12", "60", "9.8k"]
    assert RELIABILITY_MIN_IMAGES > 12
    assert list(bars.marker.color) == [GREY, GREY, BLUE, BLUE]


def test_the_reliability_caption_says_how_to_read_it():
    from ui.common.calibration import reading
    text = reading(_reliability())
    assert "the number on it how many" in text
    assert "9,800 of the 9,876 images (99%) are in the 93%-100% bin" in text
    assert "the 2 grey bins, under 30 images each, can sit far from the line" in text


def test_one_rounding_rule_for_percents_in_text_and_tables():
    """A tie (11,883 of 12,000: 99.025%) read 99.02% in a metric (Python's :.2%) and
    99.03% in a table (the browser's Intl.NumberFormat, half up)."""
    from core.evaluate.percent import percent_text, rounded_percent as rounded
    tie = 11883 / 12000
    assert f"{tie:.2%}" == "99.02%"  # Python's own rule, the one that disagreed
    assert rounded(tie) == 0.9903 and percent_text(tie) == "99.03%"
    assert percent_text(1.0) == "100.00%" and percent_text(None) == "—"
    assert rounded(float("nan")) is None and percent_text(0.98765, 1) == "98.8%"


def test_the_comparison_chart_stops_at_100_percent_with_its_legend_clear_of_the_title():
    """Its axis ran to 100.5%, and its legend (two long model names) sat over the
    "Per-class accuracy" title."""
    from core.evaluate.compare import Comparison
    from ui.common.charts import comparison_bars
    names = [str(d) for d in range(10)]
    comp = Comparison(class_names=names, accuracy_a=0.99, accuracy_b=0.98,
                      per_class_a=[1.0] + [0.99] * 9, per_class_b=[0.98] * 10,
                      per_class_delta=[-0.02] + [-0.01] * 9,
                      both_right=0, only_a_right=0, only_b_right=0, both_wrong=0)
    fig = comparison_bars(comp, "resnet (shipped) · 99.60%", "custom (run 12-05 10:00:00 ab12)")
    assert fig.layout.yaxis.range[1] == 1.0
    assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"


def test_the_last_layers_class_names_have_room_under_the_strip():
    """Inside the model's last strip cut its digits in half and hid Fashion's slanted
    names (24 px under the strip)."""
    import numpy as np
    from core.data import DATASETS
    from ui.common.insight_charts import heat_strip
    digits = heat_strip(np.arange(10.0), DATASETS["mnist"].classes)
    assert digits.layout.margin.b >= 28 and not digits.layout.xaxis.tickangle
    names = heat_strip(np.arange(10.0), DATASETS["fashion"].classes)
    assert names.layout.xaxis.tickangle == -45
    longest = max(len(n) for n in DATASETS["fashion"].classes)  # "Ankle boot"
    assert names.layout.margin.b >= longest * 0.6 * 12 * 0.7 + 12
    assert names.layout.height - names.layout.margin.b >= 60  # the strip keeps its height
    assert heat_strip(np.arange(5.0)).layout.margin.b == 4  # no labels, no room
