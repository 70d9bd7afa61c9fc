"""Infrastructure: exact token counts with tiktoken encodings built offline (bpe-openai data)."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import importlib.util
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tiktoken

from bot.providers.registry import tuned_base

_log = logging.getLogger(__name__)

O200K_BASE = "o200k_base"
CL100K_BASE = "cl100k_base"

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodingSpec:
    """What tiktoken_ext/openai_public.py builds an encoding from, minus the download."""

    name: str
    filename: str
    sha256: str
    """Of the decompressed rank file: the hash tiktoken checks its download against."""
    pat_str: str
    special_tokens: dict[str, int]


# Copied verbatim from tiktoken_ext/openai_public.py (tiktoken 0.14); tests compare the results
# with tiktoken's own encodings token for token.
ENCODING_SPECS: dict[str, EncodingSpec] = {
    CL100K_BASE: EncodingSpec(
        name=CL100K_BASE,
        filename="cl100k_base.tiktoken.gz",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    O200K_BASE: EncodingSpec(
        name=O200K_BASE,
        filename="o200k_base.tiktoken.gz",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

_CL100K_EXACT = frozenset(
    {
        "gpt-4",
        "gpt-3.5-turbo",
        "gpt-3.5",
        "gpt-35-turbo",
        "davinci-002",
        "babbage-002",
        "text-embedding-ada-002",
        "text-embedding-3-small",
        "text-embedding-3-large",
    }
)
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5-turbo-", "gpt-35-turbo-")


def base_model(model: str) -> str:
    """The base a fine-tuned model was trained from, as its family's profile reads the name;
    any other name is its own base."""
    name = model.strip().lower()
    return tuned_base(name) or name


def encoding_name_for_model(model: str) -> str:
    """cl100k_base for the GPT-3.5/GPT-4 generation, o200k_base for 4o, 4.1, 5, o-series and
    anything newer or unknown (new models have all used o200k_base so far)."""
    name = base_model(model)
    if name in _CL100K_EXACT or name.startswith(_CL100K_PREFIXES):
        return CL100K_BASE
    return O200K_BASE


def default_data_dir() -> Path | None:
    """bpe-openai's bundled rank files, found without importing it (that loads a 70 MB binary)."""
    try:
        spec = importlib.util.find_spec("bpe_openai")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class EncodingLoadError(Exception):
    """The local rank file is missing, unreadable or not the published one."""


def load_mergeable_ranks(path: Path, *, expected_sha256: str | None = None) -> dict[bytes, int]:
    """Parse a tiktoken rank file ("<base64 token> <rank>" lines), gzipped or plain, locally."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise EncodingLoadError(f"cannot read {path}: {error}") from error
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise EncodingLoadError(f"{path} is not the published file (sha256 {actual})")
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error) as error:
            raise EncodingLoadError(f"{path}:{number}: malformed rank line") from error
    if not ranks:
        raise EncodingLoadError(f"{path} holds no ranks")
    return ranks


def build_encoding(spec: EncodingSpec, data_dir: Path) -> tiktoken.Encoding:
    """A tiktoken Encoding identical to tiktoken.get_encoding(spec.name), from local data."""
    ranks = load_mergeable_ranks(data_dir / spec.filename, expected_sha256=spec.sha256)
    return tiktoken.Encoding(
        name=spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )


# One load per process and data dir: o200k_base takes a noticeable fraction of a second.
# A failure is cached too (as None) so it is logged once and never retried in a hot loop.
_cache: dict[tuple[Path, str], tiktoken.Encoding | None] = {}
_cache_lock = threading.Lock()


def cached_encoding(name: str, data_dir: Path | None) -> tiktoken.Encoding | None:
    """The named encoding from `data_dir`, loaded once per process; None if it cannot be."""
    key = (data_dir or Path("<bpe-openai missing>"), name)
    if key in _cache:
        return _cache[key]
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        encoding: tiktoken.Encoding | None = None
        try:
            if data_dir is None:
                raise EncodingLoadError("the bpe-openai package is not installed")
            encoding = build_encoding(ENCODING_SPECS[name], data_dir)
        except Exception as error:  # any failure degrades to estimates, never a crash
            _log.warning(
                "token counts will be estimates: encoding %s unavailable (%s)",
                name,
                error,
                extra={"encoding": name, "data_dir": str(data_dir)},
            )
        _cache[key] = encoding
        return encoding


def estimate_tokens(text: str) -> int:
    """About four UTF-8 bytes per token, rounded up: the fallback when no encoding loads."""
    return math.ceil(len(text.encode("utf-8", errors="surrogatepass")) / 4)


class TiktokenTokenizer:
    """The Tokenizer port: exact counts with OpenAI's encodings, never downloading anything.

    Encodings load lazily on first use from bpe-openai's bundled rank files. If one cannot be
    loaded, counts become estimates and `exact` turns False.
    """

    def __init__(self, *, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir if data_dir is not None else default_data_dir()
        self._failed = False

    @property
    def exact(self) -> bool:
        """False when counts are (or would be) estimates: an encoding failed or data is gone."""
        if self._failed or self._data_dir is None:
            return False
        return all((self._data_dir / s.filename).is_file() for s in ENCODING_SPECS.values())

    def encoding_for(self, model: str) -> tiktoken.Encoding | None:
        """The model's encoding, or None when it cannot be loaded."""
        encoding = cached_encoding(encoding_name_for_model(model), self._data_dir)
        if encoding is None:
            self._failed = True
        return encoding

    def count(self, text: str, *, model: str) -> int:
        if not text:
            return 0
        encoding = self.encoding_for(model)
        if encoding is None:
            return estimate_tokens(text)
        # Training data is plain text: "<|endoftext|>" in it is ordinary characters.
        return len(encoding.encode_ordinary(text))

    def counter(self, model: str) -> Callable[[str], int]:
        """`count` bound to one model's encoding: the validator calls it millions of times."""
        encoding = self.encoding_for(model)
        if encoding is None:
            return estimate_tokens
        encode = encoding.encode_ordinary
        return lambda text: len(encode(text)) if text else 0

    def preload(self) -> bool:
        """Load every encoding now (at start-up, off the event loop); True if all are exact."""
        for name in ENCODING_SPECS:
            if cached_encoding(name, self._data_dir) is None:
                self._failed = True
        return self.exact
