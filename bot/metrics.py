"""Composition root: a small Prometheus text-format registry for /metrics (no extra dependency)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

LabelKey = tuple[tuple[str, str], ...]
DEFAULT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


def _labels(labels: LabelKey) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"


class Metrics:
    """Counters, gauges and histograms; gauges may be read live from callbacks at scrape time."""

    def __init__(self, prefix: str = "finetune_bot") -> None:
        self._prefix = prefix
        self._help: dict[str, tuple[str, str]] = {}
        self._values: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self._hist: dict[str, dict[LabelKey, tuple[list[int], list[float]]]] = defaultdict(dict)
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._collectors: list[Callable[[], Awaitable[None]]] = []

    def _name(self, name: str) -> str:
        return f"{self._prefix}_{name}"

    def describe(
        self, name: str, kind: str, help_text: str, buckets: tuple[float, ...] = DEFAULT_BUCKETS
    ) -> None:
        self._help[self._name(name)] = (kind, help_text)
        if kind == "histogram":
            self._buckets[self._name(name)] = buckets

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._values[self._name(name)]
        series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._values[self._name(name)][tuple(sorted(labels.items()))] = value

    def clear(self, name: str) -> None:
        self._values[self._name(name)].clear()

    def observe(self, name: str, value: float, **labels: str) -> None:
        full = self._name(name)
        buckets = self._buckets.get(full, DEFAULT_BUCKETS)
        key = tuple(sorted(labels.items()))
        counts, total = self._hist[full].setdefault(key, ([0] * (len(buckets) + 1), [0.0]))
        counts[bisect.bisect_left(buckets, value)] += 1
        total[0] += value

    def collect_with(self, collector: Callable[[], Awaitable[None]]) -> None:
        self._collectors.append(collector)

    async def render(self) -> str:
        for collector in self._collectors:
            await collector()
        lines: list[str] = []
        names: Iterable[str] = sorted(set(self._help) | set(self._values) | set(self._hist))
        for name in names:
            kind, help_text = self._help.get(name, ("untyped", ""))
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for key, value in sorted(self._values.get(name, {}).items()):
                lines.append(f"{name}{_labels(key)} {value:g}")
            buckets = self._buckets.get(name, DEFAULT_BUCKETS)
            for key, (counts, total) in sorted(self._hist.get(name, {}).items()):
                running = 0
                for bound, count in zip(buckets, counts, strict=False):
                    running += count
                    lines.append(f"{name}_bucket{_labels((*key, ('le', f'{bound:g}')))} {running}")
                running += counts[-1]
                lines.append(f"{name}_bucket{_labels((*key, ('le', '+Inf')))} {running}")
                lines.append(f"{name}_sum{_labels(key)} {total[0]:g}")
                lines.append(f"{name}_count{_labels(key)} {running}")
        return "\n".join(lines) + "\n"
