"""Tests for bot/tokenizer.py: token for token equal to tiktoken's own encodings, fully offline."""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.tokenizer import (
    CL100K_BASE,
    ENCODING_SPECS,
    O200K_BASE,
    TiktokenTokenizer,
    build_encoding,
    default_data_dir,
    encoding_name_for_model,
    estimate_tokens,
)
from handlers.tokens import count_chat_tokens

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

SPECIAL_LOOKING = [
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<|im_start|>",
    "<|start|>assistant<|message|>",
    "<|reserved_200000|>",
]
TRICKY = [
    *SPECIAL_LOOKING,
    " ",
    "   ",
    "\n",
    "\n\n\n",
    "\t \r\n ",
    "\u00a0\u2003",
    "😀",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇫🇷",
    "日本語のテキストです。",
    "中文分词测试",
    "한국어",
    "مرحبا بالعالم",
    "Ελληνικά",
    "café naïve façade",
    "e\u0301",
    "1234567890",
    "3.14159e-10",
    "I'm you're they'll WE'VE it'S",
    "def f(x):\n    return x ** 2\n",
    '{"role": "user", "content": "hi"}',
    "https://example.com/a/b?c=d&e=f",
    "CamelCaseIdentifier snake_case_name",
    "!!!???...",
    "\x00\x01\x7f",
]

texts = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(TRICKY)), min_size=0, max_size=8
).map("".join)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = default_data_dir()
    assert found is not None, "bpe-openai is a dependency; its data dir must be found"
    return found


@pytest.fixture(scope="module")
def offline_tiktoken(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[dict[str, tiktoken.Encoding]]:
    """tiktoken's own encodings, read from a cache we fill from bpe-openai's files.

    tiktoken keys its cache by sha1(blob URL) and checks the sha256 of the content, so this only
    works because bpe-openai ships byte-identical data. Any download attempt fails loudly.
    """
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, spec in ENCODING_SPECS.items():
        url = _BLOB_URL.format(name=name)
        content = gzip.decompress((data_dir / spec.filename).read_bytes())
        assert hashlib.sha256(content).hexdigest() == spec.sha256
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(content)

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        patch.setattr(tiktoken.load, "read_file", no_download)
        reference = {name: tiktoken.get_encoding(name) for name in ENCODING_SPECS}
        yield reference


@pytest.fixture(scope="session")
def ours(data_dir: Path) -> dict[str, tiktoken.Encoding]:
    return {name: build_encoding(spec, data_dir) for name, spec in ENCODING_SPECS.items()}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    empty_cache = tmp_path / "empty-tiktoken-cache"
    empty_cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty_cache))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    return empty_cache


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=texts)
def test_tokens_equal_tiktoken_for_both_encodings(
    text: str,
    offline_tiktoken: dict[str, tiktoken.Encoding],
    ours: dict[str, tiktoken.Encoding],
) -> None:
    for name in (O200K_BASE, CL100K_BASE):
        expected = offline_tiktoken[name].encode(text, disallowed_special=())
        assert ours[name].encode_ordinary(text) == expected, name


@pytest.mark.parametrize("text", [*TRICKY, "".join(TRICKY), "word " * 2000])
def test_tokenizer_counts_equal_tiktoken(
    text: str, offline_tiktoken: dict[str, tiktoken.Encoding]
) -> None:
    tokenizer = TiktokenTokenizer()
    o200k = offline_tiktoken[O200K_BASE].encode(text, disallowed_special=())
    cl100k = offline_tiktoken[CL100K_BASE].encode(text, disallowed_special=())
    assert tokenizer.count(text, model="gpt-4o-mini") == len(o200k)
    assert tokenizer.count(text, model="ft:gpt-4.1-2025-04-14:acme::abc123") == len(o200k)
    assert tokenizer.count(text, model="gpt-3.5-turbo-0125") == len(cl100k)
    assert tokenizer.exact


def test_special_tokens_and_pattern_match_tiktoken(
    offline_tiktoken: dict[str, tiktoken.Encoding], ours: dict[str, tiktoken.Encoding]
) -> None:
    for name in ENCODING_SPECS:
        reference, built = offline_tiktoken[name], ours[name]
        assert built._special_tokens == reference._special_tokens
        assert built._pat_str == reference._pat_str
        assert built.n_vocab == reference.n_vocab
        assert built.max_token_value == reference.max_token_value


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", O200K_BASE),
        ("gpt-4o-mini-2024-07-18", O200K_BASE),
        ("gpt-4.1", O200K_BASE),
        ("gpt-4.1-nano-2025-04-14", O200K_BASE),
        ("gpt-5", O200K_BASE),
        ("gpt-5-mini", O200K_BASE),
        ("o1", O200K_BASE),
        ("o3-mini", O200K_BASE),
        ("o4-mini-2025-04-16", O200K_BASE),
        ("gpt-4", CL100K_BASE),
        ("gpt-4-0613", CL100K_BASE),
        ("gpt-4-turbo", CL100K_BASE),
        ("gpt-3.5-turbo", CL100K_BASE),
        ("gpt-3.5-turbo-0125", CL100K_BASE),
        ("davinci-002", CL100K_BASE),
        ("babbage-002", CL100K_BASE),
        ("ft:gpt-4o-mini-2024-07-18:acme:support:9xYz", O200K_BASE),
        ("ft:gpt-3.5-turbo-0125:acme::abc", CL100K_BASE),
        ("ft:davinci-002:acme::abc", CL100K_BASE),
        ("GPT-4O", O200K_BASE),
    ],
)
def test_model_to_encoding_agrees_with_tiktoken(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected
    if not model.startswith("ft:") and model.islower():
        assert tiktoken.encoding_name_for_model(model) == expected


@pytest.mark.parametrize("model", ["gpt-6", "o9-pro", "some-future-model", "", "ft:"])
def test_unknown_models_use_o200k(model: str) -> None:
    assert encoding_name_for_model(model) == O200K_BASE


def test_loading_never_touches_the_network_or_tiktoken_cache(
    no_network: Path, data_dir: Path
) -> None:
    for spec in ENCODING_SPECS.values():
        encoding = build_encoding(spec, data_dir)
        assert encoding.encode_ordinary("hello world")
    tokenizer = TiktokenTokenizer(data_dir=data_dir)
    assert tokenizer.preload()
    assert tokenizer.count("hello world", model="gpt-4o") == 2
    assert list(no_network.iterdir()) == []


def test_missing_data_dir_degrades_to_a_labelled_estimate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer = TiktokenTokenizer(data_dir=tmp_path / "missing")
    assert not tokenizer.exact
    text = "héllo wörld, 😀"
    with caplog.at_level(logging.WARNING, logger="bot.tokenizer"):
        counts = [tokenizer.count(text, model="gpt-4o") for _ in range(3)]
        tokenizer.count(text, model="gpt-4")
    assert counts == [math.ceil(len(text.encode()) / 4)] * 3
    assert not tokenizer.exact
    assert not tokenizer.preload()
    warnings = [r for r in caplog.records if r.name == "bot.tokenizer"]
    assert len(warnings) == 2  # once per encoding, never per call
    assert all("estimate" in r.getMessage() for r in warnings)


def test_corrupt_data_file_degrades(tmp_path: Path) -> None:
    for spec in ENCODING_SPECS.values():
        (tmp_path / spec.filename).write_bytes(gzip.compress(b"QUJD 0\nnot base64!! x\n"))
    tokenizer = TiktokenTokenizer(data_dir=tmp_path)
    assert tokenizer.count("abcdefgh", model="gpt-4o") == 2
    assert not tokenizer.exact


def test_estimate_rounds_up_utf8_bytes() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("日本") == 2  # 6 bytes


def test_empty_text_is_zero_tokens() -> None:
    assert TiktokenTokenizer().count("", model="gpt-4o") == 0


def test_chat_overhead_with_real_encodings(offline_tiktoken: dict[str, tiktoken.Encoding]) -> None:
    reference = offline_tiktoken[O200K_BASE]
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are Acme Cloud's support assistant."},
        {"role": "user", "name": "dana", "content": "How do I rotate an API key?"},
        {"role": "assistant", "content": "Settings → API keys → Rotate.", "weight": 1},
    ]
    expected = 3 + 1  # reply priming, the name
    for message in messages:
        expected += 3
        for value in message.values():
            if isinstance(value, str):
                expected += len(reference.encode_ordinary(value))
    got = count_chat_tokens(TiktokenTokenizer(), messages, model="gpt-4o-mini")
    assert got == expected
