"""Plotly figure builders. They draw numbers computed in core; they compute nothing.

Figures are kept small (few traces, a few hundred points) because the live
training view redraws them every second while the trainer needs the CPU.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas  # noqa: F401  (see below)
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb

# pandas is imported here, once, before any chart is built: Plotly looks it up
# lazily in sys.modules, and a fragment rerunning in one thread while a page
# (st.dataframe) imports pandas in another then sees a half-initialised module
# ("partially initialized module 'pandas' has no attribute 'Series").

from core.networks.calibration import Reliability
from core.evaluate.compare import Comparison
from core.runs.curves import TrainingCurves

BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
GREEN = "#2ca02c"
RED = "#d62728"
GREY = "#9aa0a6"
# Explicit, not "gray": figures built without validation get no Python-side names.
GRAYSCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]

# No toolbar (it covers titles and small charts), no scroll-zoom surprises.
STATIC = {"displayModeBar": False, "scrollZoom": False}


def apply_layout(fig: go.Figure, height: int, title: str | None = None, **kwargs) -> go.Figure:
    """The app's chart look: its height, a left-aligned title, tight margins."""
    heading = dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None
    kwargs.setdefault("margin", dict(l=10, r=10, t=40 if title else 10, b=10))
    fig.update_layout(height=height, title=heading, **kwargs)
    return fig


def fast_figure(traces: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, skipping Plotly's validation.

    The live training charts are rebuilt every second in the server process,
    whose Python competes with the training thread for the GIL, and the Classify
    charts on every stroke; validation is ~90% of the cost of building them
    (measured: ~10 ms -> ~1 ms per chart).
    """
    return go.Figure(data=traces, layout=layout, _validate=False)


def static_layout(height: int, title: str | None, **kwargs) -> dict:
    """The plain-dict twin of apply_layout, for figures built with fast_figure."""
    heading = dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None
    return dict(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                title=heading, **kwargs)


def _zoomed_bottom(values: Sequence[float], margin: float = 0.6, pad: float = 0.01) -> float:
    """Where a percent axis that ends at 100% should start, to zoom in on the data:
    95%..100% tells more than 0..100%. Below the lowest (finite) value by `margin`
    times its distance to 100%, plus `pad`; never below 0."""
    finite = [float(v) for v in values if np.isfinite(v)]
    if not finite:
        return 0.0
    low = min(finite)
    return max(0.0, low - (1.0 - low) * margin - pad)


def _percent_ticks(bottom: float) -> str:
    """One decimal when the axis spans a few percent, else none (no '99%, 99%' ticks)."""
    return ".1%" if bottom > 0.9 else ".0%"


def _round_step(raw: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least `raw`."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def percent_axis(values: Sequence[float], ticks: int = 6) -> dict:
    """A y axis in percent over `values` whose tick labels all differ: the data's range
    padded (within 0..100%), a round tick step, and as many decimals as that step needs
    (a 0.02% step: '.2%'). A fixed '.1%' over 9.50%..9.58% read '9.5%' on every tick."""
    finite = [float(v) for v in values if np.isfinite(v)]
    if not finite:
        return dict(tickformat=".0%")
    low, high = min(finite), max(finite)
    pad = max((high - low) * 0.1, 0.005)  # one point alone: half a percent either side
    bottom, top = max(0.0, low - pad), min(1.0, high + pad)
    step = _round_step((top - bottom) / ticks)
    return dict(range=[bottom, top], dtick=step, tickformat=_percent_format(step))


def _percent_format(step: float) -> str:
    """The tick format of percent ticks `step` apart: as many decimals as the step has."""
    return f".{max(0, -math.floor(math.log10(step * 100) + 1e-9))}%"


def _luminance(colour: str) -> float:
    """WCAG relative luminance of '#rrggbb' or 'rgb(r, g, b)'."""
    rgb = hex_to_rgb(colour) if colour.startswith("#") else unlabel_rgb(colour)
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
              for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21; text wants at least 4.5)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on `background`."""
    return max(("#000000", "#ffffff"), key=lambda c: contrast(c, background))


def top_k_bars(top: Sequence[tuple[int, str, float]], title: str | None = None,
               height: int = 240) -> go.Figure:
    """Horizontal bars, most probable on top; the winner in blue."""
    names = [name for _, name, _ in top][::-1]
    probs = [p for _, _, p in top][::-1]
    colors = [GREY] * (len(top) - 1) + [BLUE]
    bars = dict(type="bar", x=probs, y=names, orientation="h", marker=dict(color=colors),
                text=[f"{p:.1%}" for p in probs], textposition="auto",
                hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    return fast_figure([bars], static_layout(
        height, title, xaxis=dict(range=[0, 1], tickformat=".0%"), yaxis=dict(type="category")))


def probability_bars(probabilities: Sequence[float], class_names: Sequence[str],
                     true: int | None = None, predicted: int | None = None,
                     height: int = 300, title: str | None = None) -> go.Figure:
    """All classes in order: predicted in red when wrong (blue when right), true in green."""
    colors = [GREY] * len(class_names)
    if predicted is not None:
        colors[predicted] = BLUE if predicted == true or true is None else RED
    if true is not None and true != predicted:
        colors[true] = GREEN
    fig = go.Figure(go.Bar(x=list(class_names), y=list(map(float, probabilities)),
                           marker_color=colors, text=[f"{p:.0%}" if p >= 0.005 else ""
                                                      for p in probabilities],
                           textposition="outside", textfont=dict(size=12),
                           hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    fig.update_xaxes(type="category")
    return apply_layout(fig, height, title)


def image_figure(image: np.ndarray, height: int = 260, title: str | None = None) -> go.Figure:
    """A 28x28 uint8 image as crisp pixels, with pixel values on hover."""
    pixels = dict(type="heatmap", z=np.asarray(image).tolist(), colorscale=GRAYSCALE,
                  zmin=0, zmax=255, showscale=False,
                  hovertemplate="row %{y}, col %{x}: %{z}<extra></extra>")
    return fast_figure([pixels], _square_layout(height, title))


def _square_layout(height: int, title: str | None) -> dict:
    axis = dict(visible=False, constrain="domain")
    return static_layout(height, title, plot_bgcolor="black", xaxis=axis,
                          yaxis=dict(axis, autorange="reversed", scaleanchor="x"))


def saliency_overlay(image: np.ndarray, values: np.ndarray, height: int = 260,
                     title: str | None = None) -> go.Figure:
    """The input in grey with the saliency map on top: transparent where it is weak."""
    base = dict(type="heatmap", z=np.asarray(image).tolist(), colorscale=GRAYSCALE,
                zmin=0, zmax=255, showscale=False, hoverinfo="skip")
    heat = dict(type="heatmap", z=np.round(np.asarray(values), 3).tolist(), zmin=0, zmax=1,
                showscale=False,
                # The weakest third stays transparent: the input shows through
                # where the model does not look.
                colorscale=[[0.0, "rgba(255,0,0,0)"], [0.33, "rgba(255,0,0,0)"],
                            [0.55, "rgba(255,40,0,0.55)"], [0.8, "rgba(255,150,0,0.8)"],
                            [1.0, "rgba(255,255,0,0.9)"]],
                hovertemplate="row %{y}, col %{x}: importance %{z:.2f}<extra></extra>")
    return fast_figure([base, heat], _square_layout(height, title))


def per_class_bars(class_names: Sequence[str], accuracy: Sequence[float], height: int = 320,
                   title: str | None = None) -> go.Figure:
    acc = [float(a) for a in accuracy]
    fig = go.Figure(go.Bar(x=list(class_names), y=acc, marker_color=BLUE,
                           text=[f"{a:.1%}" for a in acc], textposition="outside",
                           cliponaxis=False,  # labels of 100% bars sit above the axis
                           hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    bottom = _zoomed_bottom(acc)
    fig.update_yaxes(range=[bottom, 1.0], tickformat=_percent_ticks(bottom))
    fig.update_xaxes(type="category")
    return apply_layout(fig, height, title, margin=dict(l=10, r=10, t=60 if title else 30, b=10))


MISTAKE_SCALE = [[0.0, "#fff7f3"], [0.15, "#fdd0c0"], [1.0, "#e8553f"]]
DIAGONAL = "#dbe9f6"


def _cell_colour(fraction: float) -> str:
    """The colour of a mistake's cell at `fraction` of the scale (NaN: none, the diagonal)."""
    if not np.isfinite(fraction):
        return DIAGONAL
    return sample_colorscale(MISTAKE_SCALE, min(max(fraction, 0.0), 1.0))[0]


def confusion_heatmap(matrix: Sequence[Sequence[float]], class_names: Sequence[str],
                      normalized: bool, height: int = 520, title: str | None = None) -> go.Figure:
    """Rows = true class, columns = predicted. The diagonal is muted so mistakes stand out.

    A transparent marker sits on every cell: Plotly heatmaps emit no point
    selections, markers do, so clicking a cell selects (predicted, true). A heatmap
    has one text colour (Plotly's own choice put white on the darkest red, 3.6:1), so
    the mistakes are drawn as two heatmaps on one scale, the cells that want black
    labels and those that want white. Row-normalised, the colour bar is in % like the
    cells.
    """
    z = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    off = z.copy()
    np.fill_diagonal(off, np.nan)  # colour scale driven by the mistakes
    top = float(np.nanmax(off)) if n > 1 else 0.0
    top = top if top > 0 else 1.0  # the scale's top: the largest mistake (none: any)
    names = list(class_names)
    text = [[(f"{z[r, c]:.1%}" if normalized else f"{int(z[r, c])}") for c in range(n)]
            for r in range(n)]
    hover = ("true %{y} → predicted %{x}: %{customdata}<extra></extra>")
    cells = dict(x=names, y=names, text=text, texttemplate="%{text}", customdata=text,
                 hovertemplate=hover, hoverongaps=False)
    colorbar = dict(thickness=10)
    if normalized:
        step = _round_step(top / 5)
        colorbar.update(dtick=step, tickformat=_percent_format(step))
    inks = np.array([[text_colour(_cell_colour(v / top)) for v in row] for row in off])
    fig = go.Figure()
    for i, ink in enumerate(("#000000", "#ffffff")):
        # Light reds mostly, so that labels read; each cell in the trace of its label's ink.
        fig.add_trace(go.Heatmap(z=np.where(inks == ink, off, np.nan), colorscale=MISTAKE_SCALE,
                                 zmin=0, zmax=top, showscale=i == 0, colorbar=colorbar,
                                 textfont=dict(color=ink), **cells))
    diag = np.full_like(z, np.nan)
    np.fill_diagonal(diag, 1.0)
    fig.add_trace(go.Heatmap(z=diag, colorscale=[[0, DIAGONAL], [1, DIAGONAL]], showscale=False,
                             textfont=dict(color=text_colour(DIAGONAL)), **cells))
    xs, ys = np.meshgrid(np.arange(n), np.arange(n))
    fig.add_trace(go.Scatter(x=[names[i] for i in xs.ravel()], y=[names[i] for i in ys.ravel()],
                             mode="markers", marker=dict(size=28, color="rgba(0,0,0,0)",
                                                         symbol="square"),
                             # "none", not "skip": skip would also drop the click events.
                             hoverinfo="none", showlegend=False, name="cells"))
    fig.update_yaxes(autorange="reversed", type="category", title="true class")
    fig.update_xaxes(type="category", title="predicted class")
    return apply_layout(fig, height, title, clickmode="event+select", dragmode=False)


RELIABILITY_MIN_IMAGES = 30  # a bin with fewer images is drawn grey: too few to judge


def reliability_diagram(rel: Reliability, height: int = 340, title: str | None = None,
                        min_images: int = RELIABILITY_MIN_IMAGES) -> go.Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration; a bar
    below the line is over-confidence. Each bar carries its image count; a bin with
    fewer than `min_images` is grey (a handful of images far off the line says little:
    the ECE weighs each bin by its count). Empty bins are left out."""
    edges = rel.edges
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    keep = [i for i, n in enumerate(rel.counts) if n]
    width = edges[1] - edges[0]
    bars = go.Bar(x=[centres[i] for i in keep], y=[rel.accuracy[i] for i in keep],
                  width=width * 0.95, name="accuracy",
                  marker_color=[BLUE if rel.counts[i] >= min_images else GREY for i in keep],
                  text=[_count_text(rel.counts[i]) for i in keep], textposition="outside",
                  textfont=dict(size=10), cliponaxis=False,
                  customdata=[[rel.confidence[i], rel.counts[i]] for i in keep],
                  hovertemplate="confidence %{customdata[0]:.1%}: accuracy %{y:.1%} "
                                "(%{customdata[1]:,} images)<extra></extra>")
    ideal = go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated",
                       line=dict(color=GREY, dash="dash"), hoverinfo="skip")
    fig = go.Figure([bars, ideal])
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text="confidence (top probability)")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title_text="accuracy")
    # Room above the plot for the counts of bars that reach 100%.
    return apply_layout(fig, height, title, showlegend=False,
                        margin=dict(l=10, r=10, t=60 if title else 30, b=10))


def _count_text(n: int) -> str:
    """A bar's image count, short enough for a bin's width: 7, 312, 2.1k, 9.8k."""
    return f"{n}" if n < 1000 else f"{n / 1000:.1f}k" if n < 10_000 else f"{n / 1000:.0f}k"


def comparison_bars(comp: Comparison, label_a: str, label_b: str, height: int = 340) -> go.Figure:
    fig = go.Figure([
        go.Bar(name=f"A: {label_a}", x=comp.class_names, y=comp.per_class_a, marker_color=GREY,
               hovertemplate="%{x}: %{y:.2%}<extra>A</extra>"),
        go.Bar(name=f"B: {label_b}", x=comp.class_names, y=comp.per_class_b, marker_color=BLUE,
               hovertemplate="%{x}: %{y:.2%}<extra>B</extra>"),
    ])
    bottom = _zoomed_bottom(comp.per_class_a + comp.per_class_b)
    fig.update_yaxes(range=[bottom, 1.0], tickformat=_percent_ticks(bottom))
    fig.update_xaxes(type="category")
    # The legend under the bars: its two model names are long, and above the plot they
    # ran over the title.
    return apply_layout(fig, height, "Per-class accuracy", barmode="group",
                        legend=dict(orientation="h", y=-0.12, yanchor="top", x=0,
                                    xanchor="left"))


def delta_bars(comp: Comparison, height: int = 280) -> go.Figure:
    delta = comp.per_class_delta
    colors = [GREEN if d > 0 else RED if d < 0 else GREY for d in delta]
    fig = go.Figure(go.Bar(x=comp.class_names, y=delta, marker_color=colors,
                           text=[f"{d * 100:+.2f} pt" for d in delta], textposition="outside",
                           hovertemplate="%{x}: %{y:+.2%}<extra>B − A</extra>"))
    span = max([abs(d) for d in delta if np.isfinite(d)] + [0.001]) * 1.3
    fig.update_yaxes(range=[-span, span], tickformat="+.1%", zeroline=True)
    fig.update_xaxes(type="category")
    return apply_layout(fig, height, "B − A per class (percentage points)")


_LEGEND = dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right")


def _live_layout(title: str, height: int, **kwargs) -> dict:
    return dict(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=_LEGEND,
                title=dict(text=title, x=0, xanchor="left", font=dict(size=15)), **kwargs)


def loss_chart(curves: TrainingCurves, total_steps: int | None = None, raw: bool = True,
               height: int = 320) -> go.Figure:
    """Per-step loss smoothed (solid), raw (faint, unless raw=False), and per-epoch
    train / validation points.

    SVG scatter, not WebGL: with a few hundred points it is as fast, and
    browsers without a GPU emulate WebGL on the CPU the trainer needs. The
    live view leaves the raw line out: every redrawn line costs the browser
    CPU time that, on a small machine, the trainer would otherwise get.
    """
    traces: list[dict] = []
    if curves.step and raw:
        traces.append(dict(type="scatter", x=curves.step, y=curves.loss, mode="lines",
                           name="step loss", opacity=0.3, line=dict(color=BLUE, width=1),
                           hovertemplate="step %{x}: %{y:.4f}<extra></extra>"))
    if curves.step:
        traces.append(dict(type="scatter", x=curves.step, y=curves.loss_smooth, mode="lines",
                           name="smoothed", line=dict(color=BLUE, width=2),
                           hovertemplate="step %{x}: %{y:.4f}<extra>smoothed</extra>"))
    if curves.epoch:
        traces.append(dict(type="scatter", x=curves.epoch_step, y=curves.train_loss,
                           mode="markers+lines", name="train (epoch)", customdata=curves.epoch,
                           line=dict(color=ORANGE, dash="dot"),
                           hovertemplate="epoch %{customdata}: %{y:.4f}<extra>train</extra>"))
        traces.append(dict(type="scatter", x=curves.epoch_step, y=curves.val_loss,
                           mode="markers+lines", name="validation (epoch)",
                           customdata=curves.epoch, line=dict(color=GREEN),
                           hovertemplate="epoch %{customdata}: %{y:.4f}<extra>validation</extra>"))
    # Fixed axes: the x axis spans the whole run, so the curve grows across it
    # like the progress bar, and a redraw moves one line instead of every axis.
    shown = (curves.loss if raw else curves.loss_smooth) + curves.train_loss + curves.val_loss
    top = max(shown, default=1.0)
    xaxis = dict(title=dict(text="step"), range=[0, total_steps or max(curves.step, default=1)])
    return fast_figure(traces, _live_layout(
        "Loss", height, uirevision="loss", xaxis=xaxis,
        yaxis=dict(title=dict(text="loss"), range=[0, top * 1.08])))


def accuracy_chart(curves: TrainingCurves, epochs: int, height: int = 320) -> go.Figure:
    """Train and validation accuracy per epoch, on a fixed epoch axis."""
    traces = [
        dict(type="scatter", x=curves.epoch, y=curves.train_accuracy, mode="markers+lines",
             name="train", line=dict(color=ORANGE, dash="dot"),
             hovertemplate="epoch %{x}: %{y:.2%}<extra>train</extra>"),
        dict(type="scatter", x=curves.epoch, y=curves.val_accuracy, mode="markers+lines",
             name="validation", line=dict(color=GREEN),
             hovertemplate="epoch %{x}: %{y:.2%}<extra>validation</extra>"),
    ]
    # Zoomed on the data (accuracy climbs into the high 90s), never above 100%.
    bottom = _zoomed_bottom(curves.train_accuracy + curves.val_accuracy, margin=0.3, pad=0.005)
    return fast_figure(traces, _live_layout(
        "Accuracy per epoch", height, uirevision="accuracy",
        # One tick per epoch for short runs; Plotly's own spacing for long ones.
        xaxis=dict(title=dict(text="epoch"), range=[0.5, max(epochs, 1) + 0.5],
                   dtick=1 if epochs <= 20 else None),
        yaxis=dict(title=dict(text="accuracy"), tickformat=".1%", range=[bottom, 1.0])))


def votes_bars(labels: Sequence[str], predictions: Sequence[str], confidences: Sequence[float],
               height: int | None = None) -> go.Figure:
    """Each model's answer and confidence on the same input."""
    fig = go.Figure(go.Bar(x=list(confidences), y=list(labels), orientation="h",
                           marker_color=BLUE, text=[f"{p}  ({c:.1%})" for p, c in
                                                    zip(predictions, confidences)],
                           textposition="auto",
                           hovertemplate="%{y}: %{text}<extra></extra>"))
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="confidence in its answer")
    fig.update_yaxes(type="category", autorange="reversed")
    return apply_layout(fig, height or 60 + 34 * len(labels))


def class_counts_bars(class_names: Sequence[str], counts: Sequence[int], title: str | None = None,
                      height: int = 220) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(class_names), y=list(counts), marker_color=BLUE,
                           hovertemplate="%{x}: %{y:,} images<extra></extra>"))
    fig.update_xaxes(type="category")
    return apply_layout(fig, height, title)
