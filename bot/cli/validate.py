"""Command line: `finetune-bot validate PATH`: a report on stdout, a progress bar on stderr."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from bot.app.config import load_settings
from bot.infra.parallel_validation import validate_parallel
from bot.infra.tokenizer import TiktokenTokenizer
from bot.providers import registry
from bot.providers.prices import family_prices
from handlers.datasets import DatasetReport, Format, example_hashes, summary_lines
from handlers.errors import ConfigError
from handlers.pricing import estimate
from handlers.sources import unreadable
from handlers.text import count

DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="the .jsonl file")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"base model (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in Format],
        help="the file's format (default: detected from its first lines)",
    )
    parser.add_argument(
        "--validation", type=Path, help="a validation file: checked, and against training"
    )
    parser.add_argument("--epochs", type=int, help="epochs for the cost estimate (default auto)")
    parser.add_argument("--workers", type=int, help="processes (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (there is none off a terminal)"
    )


class ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, stream: TextIO, *, enabled: bool = True) -> None:
        self._label = label
        self._stream = stream
        self._enabled = enabled
        self._started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self._enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        share = done / total if total else 1.0
        width = 30
        filled = int(share * width)
        rate = done / (now - self._started) / 1e6 if now > self._started else 0.0
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{share:6.1%} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB {rate:,.0f} MB/s"
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def run_validate(args: argparse.Namespace) -> int:
    path: Path = args.path
    # Directories, devices, pipes and /proc files: one line saying so, never a traceback.
    for given in (path, args.validation):
        problem = unreadable(given) if given is not None else None
        if problem is not None:
            print(f"finetune-bot: {problem}", file=sys.stderr)
            return EXIT_USAGE
    try:
        settings = load_settings()
        table = family_prices(registry.family(settings.provider), settings.prices_file)
    except ConfigError as error:
        print(f"finetune-bot: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    tokenizer = TiktokenTokenizer()
    limit = table.token_limit(args.model)
    fmt = Format(args.format) if args.format else None
    reports: list[tuple[str, DatasetReport]] = []
    # A bar only on a terminal: in a log or a pipe its carriage returns are noise.
    show_bar = not args.quiet and sys.stderr.isatty()
    bar = ProgressBar(path.name, sys.stderr, enabled=show_bar)
    try:
        report = validate_parallel(
            path,
            tokenizer,
            model=args.model,
            token_limit=limit,
            format=fmt,
            workers=args.workers,
            progress=bar,
        )
    finally:
        bar.close()
    reports.append(("training", report))
    if args.validation is not None:
        bar = ProgressBar(args.validation.name, sys.stderr, enabled=show_bar)
        try:
            checked = validate_parallel(
                args.validation,
                tokenizer,
                model=args.model,
                token_limit=limit,
                format=Format(report.format),
                training_hashes=example_hashes(path),
                workers=args.workers,
                progress=bar,
            )
        finally:
            bar.close()
        reports.append(("validation", checked))
    cost = estimate(
        table,
        model=args.model,
        examples=report.examples,
        billed_tokens_per_epoch=report.billed_tokens_per_epoch,
        epochs=args.epochs,
    )
    if args.json:
        document = {
            name: {**asdict(r), "ok": r.ok, "shown": [str(p) for p in r.shown]}
            for name, r in reports
        }
        document["estimate"] = {
            **{k: v for k, v in asdict(cost).items() if k != "price"},
        }
        print(json.dumps(document, indent=2, default=str))
    else:
        for name, r in reports:
            verdict = "ready" if r.ok else f"{count(r.problem_count, 'error')} to fix"
            print(f"{name}: {r.path}: {verdict}, {count(r.warning_count, 'warning')}")
            # What to fix, by line, first; then the statistics.
            for line in r.problems:
                print(f"  - {line}")
            for line in summary_lines(r):
                print(f"  {line}")
        if report.examples:  # no cost for a file with no valid example
            for line in cost.lines(exact_tokens=report.exact_tokens):
                print(line)
            print(f"Prices: {table.as_of}, {table.source.split(' ', 1)[0]}")
    return EXIT_OK if all(r.ok for _, r in reports) else EXIT_ERRORS
