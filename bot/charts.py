"""Bot layer: renders a job's loss and token-accuracy curves as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import io
import logging
import math
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from handlers.model import MetricPoint

_log = logging.getLogger(__name__)


def _ensure_quiet_mplconfigdir() -> None:
    """Point matplotlib at a private writable cache dir when its default one is unwritable.

    Matplotlib otherwise falls back to a fresh temporary dir on every start, logs a warning
    about it and rebuilds its font cache each time (the container's $HOME may be read-only).
    """
    if os.environ.get("MPLCONFIGDIR"):
        return
    try:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        default = Path(base) / "matplotlib"
        default.mkdir(parents=True, exist_ok=True)
        if os.access(default, os.W_OK | os.X_OK):
            return
    except (OSError, RuntimeError):
        pass
    uid = os.getuid() if hasattr(os, "getuid") else 0
    private = Path(tempfile.gettempdir()) / f"finetune-bot-matplotlib-{uid}"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        info = private.lstat()
        # A shared /tmp: only trust a real directory we own that nobody else can write to.
        if (
            stat.S_ISDIR(info.st_mode)
            and info.st_uid == uid
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            os.environ["MPLCONFIGDIR"] = str(private)
            return
    except OSError:
        pass
    os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="finetune-bot-matplotlib-")


_ensure_quiet_mplconfigdir()

# Figure + FigureCanvasAgg instead of pyplot: no global figure registry, no backend switching,
# safe to call from any thread and nothing to leak if a render fails half way.
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

WIDTH_PX = 1200
HEIGHT_PX = 500
DPI = 100
EMPTY_TEXT = "no metrics yet"

# Losses beyond this are divergence, not information; clamping keeps the axis math finite.
_MAX_ABS_VALUE = 1e6

_TRAIN_COLOR = "#1f77b4"
_VALID_COLOR = "#ff7f0e"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Series:
    label: str
    color: str
    steps: list[int]
    values: list[float]
    markers: bool


class MatplotlibChartRenderer:
    """The ChartRenderer port: loss and token-accuracy panels, train and validation, by step."""

    def __init__(
        self, *, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX, dpi: int = DPI
    ) -> None:
        if width_px < 100 or height_px < 100 or dpi < 10:
            raise ValueError("chart too small to be readable")
        self._width_px = width_px
        self._height_px = height_px
        self._dpi = dpi

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of every PNG this renderer produces."""
        return self._width_px, self._height_px

    def render(self, title: str, points: Sequence[MetricPoint]) -> bytes:
        """A PNG of train/validation loss and token accuracy over steps."""
        figure = Figure(
            figsize=(self._width_px / self._dpi, self._height_px / self._dpi),
            dpi=self._dpi,
            layout="constrained",
        )
        FigureCanvasAgg(figure)
        try:
            ordered = _latest_per_step(points)
            safe_title = _printable(title) or "fine-tuning job"
            if not ordered:
                _draw_empty(figure, safe_title)
            else:
                _draw_panels(figure, safe_title, ordered)
            with io.BytesIO() as buffer, warnings.catch_warnings():
                # A title from a job or model name may hold a character the font maps but
                # cannot shape (seen: U+1EE00); it draws as a box, never a warning per chart.
                warnings.filterwarnings(
                    "ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning
                )
                figure.savefig(buffer, format="png", dpi=self._dpi)
                return buffer.getvalue()
        finally:
            figure.clear()


def _latest_per_step(points: Sequence[MetricPoint]) -> list[MetricPoint]:
    by_step: dict[int, MetricPoint] = {}
    for point in points:
        by_step[point.step] = point
    return [by_step[step] for step in sorted(by_step)]


def _draw_empty(figure: Figure, title: str) -> None:
    figure.suptitle(title, fontsize=14, fontweight="bold", parse_math=False)
    figure.text(
        0.5,
        0.5,
        EMPTY_TEXT,
        ha="center",
        va="center",
        fontsize=20,
        color="#666666",
        parse_math=False,
    )


def _draw_panels(figure: Figure, title: str, points: list[MetricPoint]) -> None:
    last = points[-1]
    total = max((p.total_steps for p in points if p.total_steps), default=None)
    progress = f"step {last.step} of {total}" if total else f"step {last.step}"
    figure.suptitle(f"{title}  ·  {progress}", fontsize=14, fontweight="bold", parse_math=False)

    loss_axes, accuracy_axes = figure.subplots(1, 2)
    _draw_panel(
        loss_axes,
        "Loss",
        [
            _series("train loss", _TRAIN_COLOR, points, lambda p: p.train_loss),
            _series("validation loss", _VALID_COLOR, points, lambda p: p.valid_loss),
        ],
        percent=False,
    )
    _draw_panel(
        accuracy_axes,
        "Token accuracy",
        [
            _series("train accuracy", _TRAIN_COLOR, points, lambda p: p.train_accuracy),
            _series("validation accuracy", _VALID_COLOR, points, lambda p: p.valid_accuracy),
        ],
        percent=True,
    )
    first = points[0].step
    if total and total > first:
        limits = (min(0, first), max(total, last.step))
    elif first == last.step:
        limits = (first - 1, first + 1)
    else:
        limits = None
    if limits is not None:
        for axes in (loss_axes, accuracy_axes):
            axes.set_xlim(*limits)


def _series(
    label: str,
    color: str,
    points: list[MetricPoint],
    pick: Callable[[MetricPoint], float | None],
) -> _Series:
    steps: list[int] = []
    values: list[float] = []
    for point in points:
        value = pick(point)
        if value is None or not math.isfinite(value):
            continue
        steps.append(point.step)
        values.append(max(-_MAX_ABS_VALUE, min(_MAX_ABS_VALUE, value)))
    # Validation metrics arrive on a few steps only: markers keep sparse points visible.
    markers = len(steps) <= 30 or len(steps) * 4 <= len(points)
    return _Series(label=label, color=color, steps=steps, values=values, markers=markers)


def _draw_panel(axes: Axes, name: str, series: list[_Series], *, percent: bool) -> None:
    axes.set_title(name, fontsize=12, parse_math=False)
    axes.set_xlabel("step", fontsize=10)
    axes.set_ylabel(name.lower(), fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if percent:
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    drawn = 0
    for line in series:
        if not line.steps:
            continue
        axes.plot(
            line.steps,
            line.values,
            label=line.label,
            color=line.color,
            linewidth=1.8,
            marker="o" if line.markers else None,
            markersize=4,
        )
        drawn += 1
    if drawn:
        axes.legend(loc="best", fontsize=9, frameon=True)
    else:
        axes.text(
            0.5,
            0.5,
            f"no {name.lower()} data yet",
            transform=axes.transAxes,
            ha="center",
            va="center",
            color="#666666",
            parse_math=False,
        )


def _printable(text: str) -> str:
    """Keep what the bundled font can draw: a missing glyph is a UserWarning, not a box."""
    supported = _font_charmap()
    cleaned = "".join(
        ch if ch.isprintable() and ord(ch) in supported else "?" for ch in " ".join(text.split())
    )
    return cleaned[:120]


@lru_cache(maxsize=1)
def _font_charmap() -> frozenset[int]:
    try:
        from matplotlib import font_manager, ft2font

        path = font_manager.findfont(font_manager.FontProperties())
        return frozenset(ft2font.FT2Font(path).get_charmap())
    except Exception:  # the font lookup is best effort; ASCII is always safe
        _log.debug("font charmap unavailable; titles limited to ASCII", exc_info=True)
        return frozenset(range(0x20, 0x7F))
