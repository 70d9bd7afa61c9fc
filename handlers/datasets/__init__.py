"""Core layer: streaming validation and statistics of JSONL fine-tuning data in every format.

The modules, in the order a validation uses them: `plan` (sniff the file, settle its format),
`reader` (lines of a byte range in bounded memory), `scan` (the checks of one line, into a
`Partial`), `formats` (each format's schema rules and token totals), `hashes` (duplicates and
overlap with training), `report` (partials merged into a `DatasetReport`, summary lines),
`validate` (all of it in one call); `estimate` is the fallback tokenizer.
"""

from handlers.datasets.estimate import EstimateTokenizer
from handlers.datasets.formats import Format
from handlers.datasets.hashes import HashSet64, example_hashes
from handlers.datasets.plan import Plan, plan
from handlers.datasets.problems import MAX_SHOWN_PER_KIND, Kind, Problem, Severity
from handlers.datasets.reader import CHUNK_BYTES, MAX_LINE_BYTES, ProgressCallback, detect_format
from handlers.datasets.report import (
    MIN_EXAMPLES,
    DatasetReport,
    Distribution,
    Partial,
    finish,
    summary_lines,
)
from handlers.datasets.scan import ScanOptions, scan_range
from handlers.datasets.validate import validate_file

__all__ = [
    "CHUNK_BYTES",
    "MAX_LINE_BYTES",
    "MAX_SHOWN_PER_KIND",
    "MIN_EXAMPLES",
    "DatasetReport",
    "Distribution",
    "EstimateTokenizer",
    "Format",
    "HashSet64",
    "Kind",
    "Partial",
    "Plan",
    "Problem",
    "ProgressCallback",
    "ScanOptions",
    "Severity",
    "detect_format",
    "example_hashes",
    "finish",
    "plan",
    "scan_range",
    "summary_lines",
    "validate_file",
]
