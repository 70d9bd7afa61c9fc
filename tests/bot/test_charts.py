"""Tests for bot/charts.py: valid PNGs of the expected size for any metrics, quietly."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.charts import HEIGHT_PX, WIDTH_PX, MatplotlibChartRenderer
from handlers.model import MetricPoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def decode(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 2_000
    with io.BytesIO(png) as buffer:
        image = matplotlib.image.imread(buffer, format="png")
    assert not math.isnan(float(image.sum()))
    height, width = image.shape[:2]
    return width, height


def curve(n: int, *, with_valid: bool = True) -> list[MetricPoint]:
    return [
        MetricPoint(
            step=step,
            total_steps=n * 2,
            train_loss=2.0 / (1 + step * 0.1),
            train_accuracy=min(1.0, 0.4 + step / (n * 3)),
            valid_loss=2.1 / (1 + step * 0.1) if with_valid and step % 10 == 0 else None,
            valid_accuracy=0.38 + step / (n * 3) if with_valid and step % 10 == 0 else None,
        )
        for step in range(1, n + 1)
    ]


def test_renders_a_full_chart() -> None:
    png = MatplotlibChartRenderer().render("ft:gpt-4o-mini:acme::support", curve(120))
    assert decode(png) == (WIDTH_PX, HEIGHT_PX)


def test_empty_points_render_a_placeholder() -> None:
    renderer = MatplotlibChartRenderer()
    png = renderer.render("ftjob-abc", [])
    assert decode(png) == renderer.size_px
    # the placeholder is a different picture from a real chart
    assert png != renderer.render("ftjob-abc", curve(5))


def test_train_only_points() -> None:
    png = MatplotlibChartRenderer().render("train only", curve(40, with_valid=False))
    assert decode(png) == (WIDTH_PX, HEIGHT_PX)


def test_custom_size() -> None:
    renderer = MatplotlibChartRenderer(width_px=800, height_px=400, dpi=80)
    assert decode(renderer.render("small", curve(10))) == (800, 400)


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        MatplotlibChartRenderer(width_px=10)


@pytest.mark.parametrize(
    "title",
    ["$x^$ costs $5", "emoji 😀 and 中文 and \u200b\x00 control", "", "a" * 500, "\n\t"],
)
def test_hostile_titles_render_without_warnings(title: str) -> None:
    # mathtext is off and glyphs the font lacks are replaced: filterwarnings=error proves it
    assert decode(MatplotlibChartRenderer().render(title, curve(3))) == (WIDTH_PX, HEIGHT_PX)


def test_non_finite_values_are_skipped() -> None:
    points = [
        MetricPoint(step=1, train_loss=math.nan, train_accuracy=math.inf),
        MetricPoint(step=2, train_loss=1e308, valid_loss=-math.inf, valid_accuracy=math.nan),
        MetricPoint(step=2, train_loss=0.5),
        MetricPoint(step=3),
    ]
    assert decode(MatplotlibChartRenderer().render("odd", points)) == (WIDTH_PX, HEIGHT_PX)


maybe_value = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=5),
)
points_strategy = st.lists(
    st.builds(
        MetricPoint,
        step=st.integers(min_value=-5, max_value=100_000),
        total_steps=st.one_of(st.none(), st.integers(min_value=0, max_value=200_000)),
        train_loss=maybe_value,
        train_accuracy=maybe_value,
        valid_loss=maybe_value,
        valid_accuracy=maybe_value,
    ),
    max_size=60,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(max_size=60), points=points_strategy)
def test_any_points_give_a_valid_png(title: str, points: list[MetricPoint]) -> None:
    assert decode(MatplotlibChartRenderer().render(title, points)) == (WIDTH_PX, HEIGHT_PX)


def test_import_and_render_are_quiet_with_an_unwritable_home(tmp_path: Path) -> None:
    """No warning (Python's or matplotlib's logged one) when $HOME cannot hold a cache."""
    env = {k: v for k, v in os.environ.items() if k not in {"MPLCONFIGDIR", "XDG_CONFIG_HOME"}}
    env["HOME"] = str(tmp_path / "does-not-exist" / "and-cannot-be-created")
    (tmp_path / "does-not-exist").write_text("a file, so mkdir under it fails")
    env["TMPDIR"] = str(tmp_path)
    env["PYTHONPATH"] = str(REPO)
    script = (
        "from bot.charts import MatplotlibChartRenderer\n"
        "from handlers.model import MetricPoint\n"
        "png = MatplotlibChartRenderer().render('t', [MetricPoint(step=1, train_loss=1.0)])\n"
        "assert png.startswith(b'\\x89PNG')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / f"finetune-bot-matplotlib-{os.getuid()}").is_dir()


def test_a_title_the_font_cannot_shape_draws_without_a_warning() -> None:
    """U+1EE00 is in the bundled font's character map but has no shapable glyph."""
    png = MatplotlibChartRenderer().render("job \U0001ee00", [MetricPoint(step=1, train_loss=1.0)])
    assert decode(png) == (WIDTH_PX, HEIGHT_PX)
