"""Tests for handlers/datasets/: every problem kind, every bad input, bounded memory, stats."""

from __future__ import annotations

import gc
import gzip
import json
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import datasets
from handlers.datasets import (
    MIN_EXAMPLES,
    DatasetReport,
    Distribution,
    EstimateTokenizer,
    Format,
    Kind,
    ScanOptions,
    Severity,
    detect_format,
    example_hashes,
    scan_range,
    validate_file,
)


class CharTokenizer:
    """One token per character: easy to reason about, exact by construction."""

    @property
    def exact(self) -> bool:
        return True

    def count(self, text: str, *, model: str) -> int:
        return len(text)

    def counter(self, model: str) -> Callable[[str], int]:
        return len


def chat(i: int, **extra: object) -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": f"Answer {i}."},
        ],
        **extra,
    }


def write(path: Path, records: Sequence[object], *, tail: str = "\n") -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + tail, encoding="utf-8")
    return path


def check(
    path: Path, *, limit: int = 10_000, fmt: Format | None = None, training: set[int] | None = None
) -> DatasetReport:
    return validate_file(
        path,
        CharTokenizer(),
        model="m",
        token_limit=limit,
        format=fmt,
        training_hashes=training,
    )


def with_line(tmp_path: Path, bad: object, at: int = 5, n: int = 12) -> DatasetReport:
    records: list[object] = [chat(i) for i in range(n)]
    records.insert(at - 1, bad)
    return check(write(tmp_path / "d.jsonl", records))


def only(report: DatasetReport, kind: Kind) -> list[str]:
    return [str(p) for p in report.shown if p.kind is kind]


# ------------------------------------------------------------------------ a clean file


def test_clean_chat_file_has_exact_statistics(tmp_path: Path) -> None:
    report = check(write(tmp_path / "d.jsonl", [chat(i) for i in range(20)]))
    assert report.ok
    assert report.warning_count == 0
    assert report.format == "chat"
    assert (report.examples, report.lines) == (20, 20)
    # 3 messages × 3 + 3 priming + the characters of every value (roles too, as OpenAI counts)
    roles = len("system") + len("user") + len("assistant")
    text = len("Be brief.")
    lengths = [12 + roles + text + len(f"Question {i}?Answer {i}.") for i in range(20)]
    assert report.total_tokens == sum(lengths)
    assert report.tokens.minimum == min(lengths)
    assert report.tokens.maximum == max(lengths)
    assert report.messages == Distribution(count=20, minimum=3, mean=3.0, p50=3, p95=3, maximum=3)
    assert report.total_assistant_tokens == sum(len(f"Answer {i}.") for i in range(20))
    assert report.billed_tokens_per_epoch == report.total_tokens
    assert len(report.sha256) == 64


def test_distribution_quantiles_are_nearest_rank() -> None:
    hist = {v: 1 for v in range(1, 101)}
    dist = Distribution.of(hist)
    assert (dist.minimum, dist.p50, dist.p95, dist.maximum) == (1, 50, 95, 100)
    assert dist.mean == 50.5
    assert Distribution.of({}) == Distribution()


# ------------------------------------------------------------------------ problem kinds


@pytest.mark.parametrize(
    ("bad", "kind", "words"),
    [
        ("{not json", Kind.INVALID_JSON, "not valid JSON"),
        ([1, 2], Kind.WRONG_TYPE, "must be a JSON object, not a list"),
        ({"messages": "hi"}, Kind.WRONG_TYPE, "'messages' must be a list"),
        ({"messages": [{"role": "user", "content": 42}]}, Kind.WRONG_TYPE, "not a number"),
        ({"messages": [{"role": 7, "content": "x"}]}, Kind.WRONG_TYPE, "'role' must be a string"),
        ({"messages": [{"role": "user", "content": "hi"}]}, Kind.MISSING_ASSISTANT, "assistant"),
        ({"messages": [{"role": "bot", "content": "x"}]}, Kind.UNKNOWN_ROLE, "'bot'"),
        (
            {
                "messages": [
                    {"role": "user", "content": " "},
                    {"role": "assistant", "content": "a"},
                ]
            },
            Kind.EMPTY_CONTENT,
            "empty content",
        ),
        ({**chat(1), "extra": 1}, Kind.UNKNOWN_KEY, "unknown key 'extra'"),
        ({"messages": []}, Kind.MISSING_KEY, "'messages' is empty"),
        ({"prompt": "p"}, Kind.MISSING_KEY, "no 'messages'"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]},
            Kind.MISSING_KEY,
            "has no 'content'",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "weight": 2},
                ]
            },
            Kind.WRONG_TYPE,
            "'weight' must be 0 or 1",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "weight": True},
                ]
            },
            Kind.WRONG_TYPE,
            "'weight' must be 0 or 1",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            Kind.WRONG_TYPE,
            "'text' must be a string",
        ),
        ({**chat(1), "parallel_tool_calls": "yes"}, Kind.WRONG_TYPE, "true or false"),
        ({**chat(1), "tools": {"a": 1}}, Kind.WRONG_TYPE, "'tools' must be a list"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "tool_calls": [{"function": {"name": 1}}]},
                ]
            },
            Kind.WRONG_TYPE,
            "'name' and 'arguments' must be strings",
        ),
    ],
)
def test_each_problem_kind_is_named_with_its_line(
    tmp_path: Path, bad: object, kind: Kind, words: str
) -> None:
    report = with_line(tmp_path, bad, at=5)
    assert not report.ok
    found = only(report, kind)
    assert found, report.problems
    assert found[0].startswith("line 5: ")
    assert words in found[0]
    assert report.counts[kind.value] == 1
    assert report.examples == 12


def test_valid_chat_features_pass(tmp_path: Path) -> None:
    rich = {
        "messages": [
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "name": "dana", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "4°C"},
            {"role": "assistant", "content": "It is 4°C.", "weight": 1},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            {"role": "assistant", "content": "A cat.", "weight": 0},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
        "parallel_tool_calls": False,
    }
    report = check(write(tmp_path / "d.jsonl", [rich] * 1 + [chat(i) for i in range(10)]))
    assert report.ok, report.problems
    assert report.examples == 11


def test_too_few_examples(tmp_path: Path) -> None:
    report = check(write(tmp_path / "d.jsonl", [chat(i) for i in range(MIN_EXAMPLES - 1)]))
    assert not report.ok
    [problem] = report.shown
    assert problem.kind is Kind.TOO_FEW
    assert problem.line is None
    assert f"at least {MIN_EXAMPLES}" in problem.detail
    assert check(write(tmp_path / "e.jsonl", [chat(i) for i in range(MIN_EXAMPLES)])).ok


def test_duplicates_are_warnings_naming_the_first_line(tmp_path: Path) -> None:
    records: list[object] = [chat(i) for i in range(12)]
    records += [chat(2), chat(2), chat(7)]
    report = check(write(tmp_path / "d.jsonl", records))
    assert report.ok  # warnings do not block
    assert report.counts[Kind.DUPLICATE.value] == 3
    assert only(report, Kind.DUPLICATE) == [
        "line 13: repeats line 3 exactly",
        "line 14: repeats line 3 exactly",
        "line 15: repeats line 8 exactly",
    ]


def test_validation_examples_found_in_training(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [chat(i) for i in range(12)])
    valid = write(tmp_path / "valid.jsonl", [chat(100), chat(4), chat(101)])
    report = check(valid, training=example_hashes(train))
    assert report.ok
    assert only(report, Kind.IN_TRAINING) == [
        "line 2: this validation example also appears in the training file"
    ]
    assert Kind.TOO_FEW.value not in report.counts  # a validation file may be small


def test_over_the_token_limit_is_a_warning_and_billed_at_the_limit(tmp_path: Path) -> None:
    records: list[object] = [chat(i) for i in range(12)]
    long = {
        "messages": [{"role": "user", "content": "x" * 500}, {"role": "assistant", "content": "y"}]
    }
    records.append(long)
    report = check(write(tmp_path / "d.jsonl", records), limit=100)
    assert report.ok
    assert report.over_limit == 1
    [found] = only(report, Kind.TOO_LONG)
    assert found.startswith("line 13: ")
    assert "will be truncated" in found
    assert Kind.TOO_LONG.severity is Severity.WARNING
    assert report.billed_tokens_per_epoch == report.total_tokens - report.tokens.maximum + 100


def test_first_few_of_each_kind_then_counts(tmp_path: Path) -> None:
    records: list[object] = [chat(i) for i in range(12)] + ["{bad"] * 7 + [[1]] * 2
    report = check(write(tmp_path / "d.jsonl", records))
    assert report.problem_count == 9
    assert len(only(report, Kind.INVALID_JSON)) == datasets.MAX_SHOWN_PER_KIND
    assert "… and 4 more [invalid JSON]" in report.problems
    assert report.counts == {"invalid JSON": 7, "wrong type": 2}


# ------------------------------------------------------------------------ formats


def test_formats_are_detected(tmp_path: Path) -> None:
    completion = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(12)]
    preference = [
        {
            "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}],
        }
        for i in range(12)
    ]
    reinforcement = [
        {"messages": [{"role": "user", "content": f"q{i}"}], "answer": "yes", "score": 1}
        for i in range(12)
    ]
    cases: dict[Format, Sequence[object]] = {
        Format.CHAT: [chat(i) for i in range(12)],
        Format.COMPLETION: completion,
        Format.PREFERENCE: preference,
        Format.REINFORCEMENT: reinforcement,
    }
    for fmt, records in cases.items():
        path = write(tmp_path / f"{fmt}.jsonl", list(records))
        assert detect_format(path) is fmt
        report = check(path)
        assert report.format == fmt.value
        assert report.ok, (fmt, report.problems)
        assert report.examples == 12


def test_a_named_format_the_file_is_not_is_one_problem_with_its_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", [chat(i) for i in range(12)])
    report = check(path, fmt=Format.PREFERENCE)
    assert report.format == "preference"
    assert report.examples == 0
    # Not an error on every line: one, saying what the file is and what to drop.
    assert report.counts == {"another format": 1}
    assert report.problems == (
        "this is a chat file; drop format=preference (the format is found from the file) "
        "[another format]",
    )


def test_a_plain_text_file_is_told_once_what_jsonl_is(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("Reset the router first\n\nThen call support\n")
    report = check(path)
    assert report.counts == {"text, not JSONL": 1}
    (problem,) = report.problems
    assert problem.startswith("line 1: this is plain text, not JSONL: each line must be one JSON")
    assert report.examples == 0


def test_json_lines_of_another_shape_are_not_called_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('"just a string"\n42\n')
    report = check(path)
    assert "text, not JSONL" not in report.counts
    assert report.counts.get("wrong type") == 2, report.counts


def test_a_csv_file_is_told_it_looks_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("prompt,completion\nHow do I reset?,Open settings\n")
    report = check(path)
    assert report.counts == {"CSV, not JSONL": 1}
    (problem,) = report.problems
    assert problem.startswith("line 1: this looks like CSV (columns separated by commas)")
    assert report.examples == 0


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"input": {"messages": []}}, "'input.messages' is empty"),
        (
            {
                "input": {"messages": [{"role": "user", "content": "q"}]},
                "preferred_output": [{"role": "assistant", "content": "a"}],
            },
            "no 'non_preferred_output' list",
        ),
        (
            {
                "input": {"messages": [{"role": "user", "content": "q"}]},
                "preferred_output": [{"role": "user", "content": "a"}],
                "non_preferred_output": [{"role": "assistant", "content": "b"}],
            },
            "exactly one assistant message",
        ),
    ],
)
def test_preference_problems(tmp_path: Path, bad: object, words: str) -> None:
    good = {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    }
    records: list[object] = [good] * 11
    records.insert(2, bad)
    report = check(write(tmp_path / "p.jsonl", records), fmt=Format.PREFERENCE)
    assert not report.ok
    assert any(line.startswith("line 3: ") and words in line for line in report.problems), (
        report.problems
    )


def test_completion_problems(tmp_path: Path) -> None:
    records: list[object] = [{"prompt": "p", "completion": f"c{i}"} for i in range(11)]
    records.append({"prompt": "p", "completion": 5})
    records.append({"prompt": "p", "completion": "  "})
    report = check(write(tmp_path / "c.jsonl", records), fmt=Format.COMPLETION)
    assert only(report, Kind.WRONG_TYPE) == [
        "line 12: 'completion' must be a string, not a number"
    ]
    assert only(report, Kind.EMPTY_CONTENT) == ["line 13: 'completion' is empty"]


# ------------------------------------------------------------------------ bad input


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    report = check(path)
    assert [str(p) for p in report.shown] == ["the file is empty"]
    assert report.problem_count == 1


def test_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"messages": []}\n' * 20))
    report = check(path)
    [problem] = report.shown
    assert problem.kind is Kind.COMPRESSED
    assert "gunzip" in str(problem)
    assert problem.line == 1


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"abc\n\x00\x01\x02\xff" * 100)
    [problem] = check(path).shown
    assert problem.kind is Kind.BINARY
    assert problem.line == 2


def test_utf16_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes("\n".join(json.dumps(chat(i)) for i in range(12)).encode("utf-16"))
    [problem] = check(path).shown
    assert problem.kind is Kind.ENCODING
    assert "UTF-16" in problem.detail


def test_wrong_encoding_on_one_line(tmp_path: Path) -> None:
    lines = [json.dumps(chat(i), ensure_ascii=False).encode() for i in range(12)]
    lines[6] = '{"messages": [{"role": "user", "content": "café"}]}'.encode("latin-1")
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = check(path)
    [found] = only(report, Kind.ENCODING)
    assert found.startswith("line 7: byte 0xe9 at column ")
    assert report.examples == 11


def test_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(chat(i)) for i in range(12)).encode())
    report = check(path)
    assert only(report, Kind.BOM) == [
        "line 1: the file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM"
    ]
    assert report.examples == 12  # the rest of line 1 is still checked


def test_crlf_line_ends_are_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\r\n".join(json.dumps(chat(i)).encode() for i in range(12)) + b"\r\n")
    report = check(path)
    assert report.ok
    assert report.counts == {"CRLF line ends": 1}
    assert only(report, Kind.CRLF)[0].startswith("line 1: ")
    assert report.examples == 12


def test_truncated_last_line(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(chat(i)) for i in range(12))
    path = tmp_path / "d.jsonl"
    path.write_text(text[:-10], encoding="utf-8")
    report = check(path)
    [found] = only(report, Kind.TRUNCATED)
    assert found.startswith("line 12: the last line is cut off")
    # a complete last line without a newline is fine
    path.write_text(text, encoding="utf-8")
    assert check(path).ok


def test_blank_lines_are_warnings(tmp_path: Path) -> None:
    records: list[object] = [chat(i) for i in range(12)]
    records.insert(3, "   ")
    report = check(write(tmp_path / "d.jsonl", records))
    assert report.ok
    assert only(report, Kind.BLANK_LINE)[0].startswith("line 4: ")


def test_deep_nesting_is_one_clear_error(tmp_path: Path) -> None:
    deep = '{"messages": ' + "[" * 10_000 + "]" * 10_000 + "}"
    deep_content = (
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": '
        + '{"a":' * 10_000
        + "1"
        + "}" * 10_000
        + "}]}"
    )
    report = with_line(tmp_path, deep, at=2)
    assert only(report, Kind.TOO_DEEP) == ["line 2: JSON nested too deeply to be an example"]
    report = with_line(tmp_path, deep_content, at=3)
    assert [p.line for p in report.shown if p.kind is Kind.TOO_DEEP] == [3]


def _peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_single_line_is_reported_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same code path as a 2 GB line, scaled down: the cap is lowered to 1 MB, the line is
    # 40 times that; memory must stay near the cap plus a chunk, not the line.
    monkeypatch.setattr(datasets.reader, "MAX_LINE_BYTES", 1 << 20)
    path = tmp_path / "d.jsonl"
    with path.open("wb") as out:
        for i in range(6):
            out.write(json.dumps(chat(i)).encode() + b"\n")
        out.write(b'{"messages": [{"role": "user", "content": "')
        for _ in range(40):
            out.write(b"x" * (1 << 20))
        out.write(b'"}]}\n')
        for i in range(6, 12):
            out.write(json.dumps(chat(i)).encode() + b"\n")
    holder: list[DatasetReport] = []
    peak = _peak(lambda: holder.append(check(path)))
    [report] = holder
    [found] = only(report, Kind.LINE_TOO_LONG)
    assert found.startswith("line 7: 40 MB on one line")
    assert report.examples == 12
    assert report.lines == 13
    assert peak < 8 << 20, peak


def test_the_default_line_cap_keeps_a_64_mb_line_out_of_memory(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with path.open("wb") as out:
        out.write(b'{"messages": "')
        for _ in range(64):
            out.write(b"y" * (1 << 20))
        out.write(b'"}')  # no newline: the last line, too long and unterminated
    holder: list[DatasetReport] = []
    peak = _peak(lambda: holder.append(check(path)))
    [found] = only(holder[0], Kind.LINE_TOO_LONG)
    assert found.startswith("line 1: 64 MB on one line")
    assert peak < datasets.MAX_LINE_BYTES * 3, peak


@pytest.mark.parametrize("fmt", list(Format))
def test_a_range_scan_leaves_no_reference_cycle(tmp_path: Path, fmt: Format) -> None:
    # A pool worker scans range after range; a cycle holding the count cache (a bound method
    # kept on the checker, say) would linger until a full collection, megabytes a range.
    records: list[object] = [chat(i) for i in range(12)] + ["{bad", [1]]
    path = write(tmp_path / "d.jsonl", records)
    options = ScanOptions(format=fmt, model="m", token_limit=100, count=len)
    gc.collect()
    gc.disable()
    try:
        scan_range(path, 0, path.stat().st_size, options)
        assert gc.collect() == 0
    finally:
        gc.enable()


# ------------------------------------------------------------------------ never crash


@settings(
    deadline=None,  # examples: the profile's (tests/conftest.py)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.lists(
            st.one_of(
                st.binary(max_size=80),
                st.sampled_from(
                    [
                        json.dumps(chat(1)).encode(),
                        b'{"messages": [{"role": "user", "content": null}]}',
                        b'{"input": {"messages": 5}, "preferred_output": {}}',
                        b'{"prompt": 1, "completion": []}',
                        b"\xef\xbb\xbf{}",
                        b"[[[[[[",
                        b"\r",
                        b'{"messages": [{"role": "assistant", "tool_calls": [5]}]}',
                    ]
                ),
            ),
            max_size=30,
        ).map(b"\n".join),
    ),
    fmt=st.sampled_from([None, *Format]),
)
def test_never_crashes_on_arbitrary_bytes(tmp_path: Path, data: bytes, fmt: Format | None) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    report = check(path, fmt=fmt)
    assert report.bytes == len(data)
    assert report.problem_count + report.warning_count == sum(report.counts.values())
    assert report.ok == (report.problem_count == 0)
    for problem in report.shown:
        assert problem.line is None or 1 <= problem.line <= max(1, data.count(b"\n") + 1)


@given(st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), max_size=3000))
def test_hash_set_agrees_with_a_python_set(values: list[int]) -> None:
    compact = datasets.HashSet64(capacity=4)
    reference: set[int] = set()
    for value in values:
        key = value or 1
        assert compact.add(value) == (key not in reference)
        reference.add(key)
    assert len(compact) == len(reference)


@given(st.text())
def test_the_estimate_counter_agrees_with_count(value: str) -> None:
    estimate = EstimateTokenizer()
    assert estimate.counter("any-model")(value) == estimate.count(value, model="any-model")
    assert not estimate.exact
