"""Validator token counts equal tiktoken's (the cookbook's per-message formula) on varied data."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load

from bot.tokenizer import ENCODING_SPECS, TiktokenTokenizer, default_data_dir
from bot.validation import split_ranges, validate_parallel
from handlers.datasets import DatasetReport, validate_file

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

PIECES = [
    "Hello",
    " world",
    "I'm sure they'll say WE'VE",
    "日本語のテキスト",
    "中文",
    "👨‍👩‍👧‍👦",
    "🇫🇷",
    "café naïve",
    "e\u0301",
    "1234567890",
    "3.14e-10",
    "<|endoftext|>",
    "<|im_start|>",
    "def f(x):\n    return x ** 2\n",
    '{"a": [1, 2]}',
    "   ",
    "\n\n",
    "\t\r\n",
    "https://example.com/a?b=c",
    "snake_case CamelCase",
    "!!!???",
    "\u00a0\u2003",
    "مرحبا",
    "Ελληνικά",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tiktoken.Encoding]]:
    """tiktoken's own encodings from a cache filled with bpe-openai's files; no download."""
    data_dir = default_data_dir()
    assert data_dir is not None
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, spec in ENCODING_SPECS.items():
        content = gzip.decompress((data_dir / spec.filename).read_bytes())
        (cache / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()).write_bytes(
            content
        )

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        patch.setattr(tiktoken.load, "read_file", no_download)
        yield {name: tiktoken.get_encoding(name) for name in ENCODING_SPECS}


def _text(rng: random.Random) -> str:
    parts = [rng.choice(PIECES) for _ in range(rng.randint(1, 12))]
    if rng.random() < 0.3:
        parts.append("".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(1, 30))))
    return "".join(parts).strip() or "x"


def varied_examples(n: int, seed: int = 11) -> list[dict[str, list[dict[str, object]]]]:
    rng = random.Random(seed)
    examples: list[dict[str, list[dict[str, object]]]] = []
    for _ in range(n):
        messages: list[dict[str, object]] = []
        if rng.random() < 0.7:
            messages.append({"role": rng.choice(["system", "developer"]), "content": _text(rng)})
        for _ in range(rng.randint(1, 4)):
            user: dict[str, object] = {"role": "user", "content": _text(rng)}
            if rng.random() < 0.2:
                user["name"] = rng.choice(["dana", "li_wei", "Ólafur"])
            messages.append(user)
            messages.append({"role": "assistant", "content": _text(rng)})
        examples.append({"messages": messages})
    return examples


def cookbook_tokens(encoding: tiktoken.Encoding, messages: list[dict[str, object]]) -> int:
    """The notebook's num_tokens_from_messages (with encode_ordinary: text is plain text)."""
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            assert isinstance(value, str)
            total += len(encoding.encode_ordinary(value))
            if key == "name":
                total += 1
    return total + 3


@pytest.mark.parametrize(
    ("model", "encoding"), [("gpt-4o-mini", "o200k_base"), ("gpt-3.5-turbo-0125", "cl100k_base")]
)
def test_validator_totals_equal_tiktoken_on_3000_examples(
    tmp_path: Path, reference: dict[str, tiktoken.Encoding], model: str, encoding: str
) -> None:
    examples = varied_examples(3000)
    path = tmp_path / "varied.jsonl"
    path.write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in examples) + "\n", encoding="utf-8"
    )
    expected = [cookbook_tokens(reference[encoding], e["messages"]) for e in examples]
    tokenizer = TiktokenTokenizer()
    report = validate_file(path, tokenizer, model=model, token_limit=1 << 30)
    assert report.ok, report.problems
    assert report.exact_tokens
    assert report.examples == 3000
    assert report.total_tokens == sum(expected)
    assert report.tokens.minimum == min(expected)
    assert report.tokens.maximum == max(expected)
    assert report.tokens.p50 == sorted(expected)[1499]
    assistant = sum(
        len(reference[encoding].encode_ordinary(str(m["content"])))
        for e in examples
        for m in e["messages"]
        if m["role"] == "assistant"
    )
    assert report.total_assistant_tokens == assistant


def test_parallel_ranges_give_the_same_report_as_one_pass(tmp_path: Path) -> None:
    examples = varied_examples(2000, seed=3)
    lines = [json.dumps(e, ensure_ascii=False) for e in examples]
    lines[10] = "{broken"
    lines[1500] = lines[20]  # a duplicate across ranges
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = TiktokenTokenizer()
    single = validate_file(path, tokenizer, model="gpt-4o-mini", token_limit=300)
    ranges = split_ranges(path, path.stat().st_size, 50_000)
    assert len(ranges) > 4
    assert ranges[0][0] == 0
    assert ranges[-1][1] == path.stat().st_size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    seen: list[int] = []
    parallel = _parallel(path, tokenizer, seen)
    assert _comparable(parallel) == _comparable(single)
    assert any(p.startswith("warning: line 1501: repeats line 21") for p in parallel.problems)
    assert seen[-1] == path.stat().st_size


def _parallel(path: Path, tokenizer: TiktokenTokenizer, seen: list[int]) -> DatasetReport:
    import bot.validation as validation

    old = validation.PARALLEL_MIN_BYTES
    validation.PARALLEL_MIN_BYTES = 0
    try:
        return validate_parallel(
            path,
            tokenizer,
            model="gpt-4o-mini",
            token_limit=300,
            workers=2,
            range_bytes=50_000,
            progress=lambda done, total: seen.append(done),
        )
    finally:
        validation.PARALLEL_MIN_BYTES = old


def _comparable(report: DatasetReport) -> tuple[object, ...]:
    return (
        report.examples,
        report.lines,
        report.bytes,
        report.problems,
        report.problem_count,
        report.warning_count,
        dict(report.counts),
        report.tokens,
        report.messages,
        report.assistant_tokens,
        report.total_tokens,
        report.over_limit,
        report.billed_tokens_per_epoch,
    )
