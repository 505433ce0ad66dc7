"""Figures of the model-inside views: heat strips, the embedding map, runs overlaid.

Like ui.common.charts, they draw numbers computed in core and compute nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.runs.compare import CurveMetric
from ui.common.charts import fast_figure, static_layout, percent_axis

CLASS_COLORS = qualitative.D3  # 10 distinct colours, one per class
RUN_COLORS = qualitative.Plotly
# Negative blue, zero white, positive red: the sign of a unit's value reads at a glance.
DIVERGING = [[0.0, "#2166ac"], [0.5, "#f7f7f7"], [1.0, "#b2182b"]]


def heat_strip(values: np.ndarray, labels: Sequence[str] | None = None,
               height: int = 64) -> go.Figure:
    """One row of cells, one per unit of a dense layer, coloured by value around zero."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    peak = float(np.abs(v).max()) or 1.0
    x = list(labels) if labels is not None else list(range(len(v)))
    strip = dict(type="heatmap", z=[np.round(v, 4).tolist()], x=x, colorscale=DIVERGING,
                 zmin=-peak, zmax=peak, showscale=False, xgap=1 if len(v) <= 64 else 0,
                 hovertemplate="unit %{x}: %{z:.3f}<extra></extra>")
    room = label_room(labels)
    xaxis = dict(type="category", showticklabels=labels is not None, fixedrange=True,
                 tickangle=room.angle)
    layout = static_layout(height + room.pixels, None, xaxis=xaxis,
                           yaxis=dict(visible=False, fixedrange=True))
    layout["margin"] = dict(l=4, r=4, t=4, b=4 + room.pixels)
    return fast_figure([strip], layout)


@dataclass(frozen=True)
class LabelRoom:
    angle: float  # the tick labels' angle (0: level)
    pixels: int  # the height they need under the strip


def label_room(labels: Sequence[str] | None, font_px: int = 12) -> LabelRoom:
    """Room for a strip's class names under it: digits stand level; names longer than a
    cell is wide (Fashion's "Ankle boot") slant, with the height their length needs
    (the strip's bottom 24 px cut digits in half and hid the slanted names)."""
    if not labels:
        return LabelRoom(0, 0)
    longest = max(len(str(label)) for label in labels)
    if longest <= 3:
        return LabelRoom(0, 2 * font_px + 4)
    # Slanted at 45 degrees a name of n characters needs about n * 0.6 * font * sin(45).
    return LabelRoom(-45, int(longest * 0.6 * font_px * 0.71) + font_px + 8)


def embedding_map(coords: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                  class_names: Sequence[str], explained: Sequence[float],
                  height: int = 600) -> go.Figure:
    """Each image a point, coloured by its true class; mistakes as outlined diamonds on
    top. Every point's customdata is [test index, true name, predicted name]: a click
    (selection) tells the page which image it is."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    names = np.asarray(class_names, dtype=object)
    custom = np.column_stack([np.arange(len(labels)), names[labels], names[predicted]])
    wrong = labels != predicted
    traces: list[dict] = []
    for c, name in enumerate(class_names):
        rows = np.flatnonzero((labels == c) & ~wrong)
        traces.append(dict(
            type="scatter", mode="markers", name=str(name), x=coords[rows, 0].tolist(),
            y=coords[rows, 1].tolist(), customdata=custom[rows].tolist(),
            marker=dict(size=4, color=CLASS_COLORS[c % len(CLASS_COLORS)], opacity=0.55),
            hovertemplate="test image #%{customdata[0]} · %{customdata[1]}<extra></extra>"))
    rows = np.flatnonzero(wrong)
    # The legend would show the first mistake's class colour: a white stand-in shows the
    # symbol instead (same legend group: clicking it hides the mistakes).
    traces.append(dict(type="scatter", mode="markers", name=f"mistakes ({len(rows):,})",
                       x=[None], y=[None], legendgroup="mistakes", hoverinfo="skip",
                       marker=dict(size=9, symbol="diamond", color="#ffffff",
                                   line=dict(color="#111111", width=1.5))))
    traces.append(dict(
        type="scatter", mode="markers", name="mistakes", legendgroup="mistakes",
        showlegend=False,
        x=coords[rows, 0].tolist(), y=coords[rows, 1].tolist(), customdata=custom[rows].tolist(),
        marker=dict(size=9, symbol="diamond", line=dict(color="#111111", width=1.5),
                    color=[CLASS_COLORS[c % len(CLASS_COLORS)] for c in labels[rows]]),
        hovertemplate="test image #%{customdata[0]} · true %{customdata[1]} → predicted "
                      "%{customdata[2]}<extra>mistake</extra>"))
    axis = lambda i: dict(title=dict(text=f"PC {i + 1} ({explained[i]:.0%} of the variance)"),  # noqa: E731
                          zeroline=False, showticklabels=False)
    return fast_figure(traces, static_layout(
        height, None, xaxis=axis(0), yaxis=axis(1), clickmode="event+select",
        hovermode="closest", legend=dict(itemsizing="constant", title=dict(text="true class"))))


def runs_overlay(series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                 metric: CurveMetric, height: int = 420) -> go.Figure:
    """One line per run: (label, x, y) each."""
    per_epoch = metric is not CurveMetric.TRAIN_LOSS
    traces = [dict(type="scatter", x=list(x), y=list(y), name=label,
                   mode="lines+markers" if per_epoch else "lines",
                   line=dict(color=RUN_COLORS[i % len(RUN_COLORS)], width=2),
                   hovertemplate=f"{metric.x_title} %{{x}}: %{{y:{'.2%' if metric.is_accuracy else '.4f'}}}"
                                 f"<extra>{label}</extra>")
              for i, (label, x, y) in enumerate(series)]
    yaxis = dict(title=dict(text=metric.label),
                 **(percent_axis([v for _, _, y in series for v in y]) if metric.is_accuracy else {}))
    xaxis = dict(title=dict(text=metric.x_title), dtick=1 if per_epoch and _few(series) else None)
    return fast_figure(traces, static_layout(
        height, metric.label, xaxis=xaxis, yaxis=yaxis, hovermode="x unified",
        legend=dict(orientation="h", y=-0.18, yanchor="top", x=0, xanchor="left")))


def _few(series) -> bool:
    return max((len(x) for _, x, _ in series), default=0) <= 20
