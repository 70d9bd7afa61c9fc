"""Benchmark: `finetune-bot validate` against OpenAI's data-preparation notebook on one file.

    .venv/bin/python bench/validate.py           # a 1 GB synthetic chat dataset
    .venv/bin/python bench/validate.py --quick   # 50 MB

Both run in their own subprocess on the same file, in the same run. The reference does what the
cookbook notebook "Data preparation and analysis for chat model fine-tuning" does: read every
line into a list with json.loads, run its format checks, count tokens message by message with
tiktoken, print distributions. tiktoken loads offline from a temp cache filled from bpe-openai's
rank files (as the tokenizer tests do). Peak RSS: the largest process of each run (wait4's
ru_maxrss) and the sampled sum of PSS over its process tree (forked workers share pages).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.tokenizer import ENCODING_SPECS, default_data_dir  # noqa: E402

MODEL = "gpt-4o-mini-2024-07-18"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

REFERENCE = r"""
import json, sys
from collections import defaultdict
import numpy as np
import tiktoken
import tiktoken.load

def no_download(blobpath):
    raise SystemExit(f"tiktoken tried to download {blobpath}")
tiktoken.load.read_file = no_download

data_path = sys.argv[1]
encoding = tiktoken.get_encoding(sys.argv[2])

# Load the dataset
with open(data_path, "r", encoding="utf-8") as f:
    dataset = [json.loads(line) for line in f]

# Format error checks
format_errors = defaultdict(int)
for ex in dataset:
    if not isinstance(ex, dict):
        format_errors["data_type"] += 1
        continue
    messages = ex.get("messages", None)
    if not messages:
        format_errors["missing_messages_list"] += 1
        continue
    for message in messages:
        if "role" not in message or "content" not in message:
            format_errors["message_missing_key"] += 1
        if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
            format_errors["message_unrecognized_key"] += 1
        if message.get("role", None) not in ("system", "user", "assistant", "function"):
            format_errors["unrecognized_role"] += 1
        content = message.get("content", None)
        function_call = message.get("function_call", None)
        if (not content and not function_call) or not isinstance(content, str):
            format_errors["missing_content"] += 1
    if not any(message.get("role", None) == "assistant" for message in messages):
        format_errors["example_missing_assistant_message"] += 1

def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += tokens_per_name
    num_tokens += 3
    return num_tokens

def num_assistant_tokens_from_messages(messages):
    num_tokens = 0
    for message in messages:
        if message["role"] == "assistant":
            num_tokens += len(encoding.encode(message["content"]))
    return num_tokens

n_missing_system = 0
n_missing_user = 0
n_messages = []
convo_lens = []
assistant_message_lens = []
for ex in dataset:
    messages = ex["messages"]
    if not any(message["role"] == "system" for message in messages):
        n_missing_system += 1
    if not any(message["role"] == "user" for message in messages):
        n_missing_user += 1
    n_messages.append(len(messages))
    convo_lens.append(num_tokens_from_messages(messages))
    assistant_message_lens.append(num_assistant_tokens_from_messages(messages))

def print_distribution(values, name):
    print(f"#### Distribution of {name}:")
    print(f"min / max: {min(values)}, {max(values)}")
    print(f"mean / median: {np.mean(values)}, {np.median(values)}")
    print(f"p5 / p95: {np.quantile(values, 0.1)}, {np.quantile(values, 0.9)}")

print_distribution(n_messages, "num_messages_per_example")
print_distribution(convo_lens, "num_total_tokens_per_example")
print_distribution(assistant_message_lens, "num_assistant_tokens_per_example")
n_too_long = sum(l > 65536 for l in convo_lens)
print(f"{n_too_long} examples may be over the 65,536 token limit")
print(f"errors={dict(format_errors)}")
print(f"TOTAL_TOKENS={sum(convo_lens)} EXAMPLES={len(dataset)}")
"""

WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "for",
    "on",
    "that",
    "your",
    "with",
    "this",
    "you",
    "it",
    "be",
    "are",
    "as",
    "can",
    "we",
    "our",
    "will",
    "order",
    "account",
    "refund",
    "password",
    "reset",
    "billing",
    "invoice",
    "shipping",
    "delivery",
    "tracking",
    "number",
    "support",
    "subscription",
    "plan",
    "upgrade",
    "downgrade",
    "cancel",
    "renew",
    "payment",
    "card",
    "declined",
    "charge",
    "receipt",
    "email",
    "address",
    "phone",
    "verify",
    "identity",
    "two-factor",
    "authentication",
    "login",
    "error",
    "message",
    "page",
    "settings",
    "dashboard",
    "api",
    "key",
    "rotate",
    "token",
    "limit",
    "quota",
    "region",
    "cluster",
    "deploy",
    "rollback",
    "build",
    "pipeline",
    "latency",
    "timeout",
    "retry",
    "backup",
    "restore",
    "database",
    "replica",
    "storage",
    "bucket",
    "permission",
]
EXTRA = ["café", "naïve", "日本語", "中文", "👍", "Müller", "ñandú", "Ελληνικά", "résumé", "🚀"]
SYSTEMS = [
    "You are Acme Cloud's support assistant. Answer briefly and link the docs.",
    "You are a helpful, precise assistant for Acme Cloud customers.",
    "You answer billing questions for Acme Cloud. Never promise refunds.",
    "You are a friendly onboarding guide for new Acme Cloud users.",
    "You are an SRE assistant: diagnose incidents step by step.",
    "Reply in the user's language. Keep answers under 120 words.",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 22))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"#{rng.randint(1, 999_999)}")
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), rng.choice(EXTRA))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", "?", "!", ":"])


def generate(path: Path, size: int, seed: int = 7) -> int:
    """A chat dataset of about `size` bytes: varied conversations of 1 to 3 turns."""
    rng = random.Random(seed)
    sentences = [_sentence(rng) for _ in range(40_000)]
    written = examples = 0
    with path.open("w", encoding="utf-8") as out:
        while written < size:
            messages = []
            if rng.random() < 0.9:
                messages.append({"role": "system", "content": rng.choice(SYSTEMS)})
            for _ in range(rng.choice((1, 1, 2, 3))):
                user = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 4)))
                reply = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 9)))
                messages.append({"role": "user", "content": user})
                messages.append({"role": "assistant", "content": reply})
            line = json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            examples += 1
    return examples


def fill_tiktoken_cache(cache: Path) -> None:
    data_dir = default_data_dir()
    assert data_dir is not None, "bpe-openai must be installed"
    for name, spec in ENCODING_SPECS.items():
        content = gzip.decompress((data_dir / spec.filename).read_bytes())
        url = _BLOB_URL.format(name=name)
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(content)


def _tree_pss_kb(root: int) -> int:
    """Sum of PSS (kB) over `root` and its descendants, from /proc (children files: cheap)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One measured command: its wall and CPU seconds, memory peaks, output and exit status."""

    seconds: float
    max_rss_mb: float
    cpu_s: float
    tree_pss_mb: float
    output: str
    status: int


def measure(command: list[str], env: dict[str, str]) -> Run:
    """Wall time, peak RSS of the largest process (wait4) and peak summed PSS (sampled)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peak_pss = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_pss
        while not stop.is_set():
            peak_pss = max(peak_pss, _tree_pss_kb(process.pid))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        seconds=elapsed,
        max_rss_mb=usage.ru_maxrss / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime,
        tree_pss_mb=peak_pss / 1024,
        output=output,
        status=process.returncode,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="50 MB instead of 1 GB")
    parser.add_argument("--keep", type=Path, help="reuse or keep the dataset at this path")
    args = parser.parse_args()
    size = (50 if args.quick else 1024) << 20
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as temp:
        tmp = Path(temp)
        data = args.keep or tmp / "train.jsonl"
        if not data.exists() or abs(data.stat().st_size - size) > (1 << 20):
            t0 = time.perf_counter()
            examples = generate(data, size)
            print(
                f"generated {data.stat().st_size / 1e6:,.0f} MB, {examples:,} examples "
                f"in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
        megabytes = data.stat().st_size / 1e6
        cache = tmp / "tiktoken-cache"
        cache.mkdir()
        fill_tiktoken_cache(cache)
        env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "FINETUNE_BOT_PROVIDER": "sandbox"}
        script = tmp / "reference.py"
        script.write_text(REFERENCE)
        ours_cmd = [
            str(Path(sys.executable).with_name("finetune-bot")),
            "validate",
            str(data),
            "--model",
            MODEL,
            "--json",
            "--quiet",
        ]
        ref_cmd = [sys.executable, str(script), str(data), "o200k_base"]
        load_before = os.getloadavg()[0]  # other work on the machine skews both runs
        ours = measure(ours_cmd, env)
        print(
            f"finetune-bot validate: {ours.seconds:.1f} s, "
            f"{megabytes / ours.seconds:.1f} MB/s, "
            f"CPU {ours.cpu_s:.1f} s, max RSS {ours.max_rss_mb:.0f} MB, "
            f"tree PSS {ours.tree_pss_mb:.0f} MB, "
            f"exit {ours.status}",
            flush=True,
        )
        ref = measure(ref_cmd, env)
        print(
            f"reference (notebook):  {ref.seconds:.1f} s, "
            f"{megabytes / ref.seconds:.1f} MB/s, "
            f"CPU {ref.cpu_s:.1f} s, max RSS {ref.max_rss_mb:.0f} MB, "
            f"tree PSS {ref.tree_pss_mb:.0f} MB, "
            f"exit {ref.status}",
            flush=True,
        )
        report = json.loads(ours.output)["training"]
        ours_tokens = int(report["total_tokens"])
        ref_tokens = int(ref.output.rsplit("TOTAL_TOKENS=", 1)[1].split()[0])
        speedup = ref.seconds / ours.seconds
        rss_ratio = ours.max_rss_mb / ref.max_rss_mb
        print(f"tokens: ours {ours_tokens:,}, reference {ref_tokens:,}")
        print(
            f"size_mb={megabytes:.0f} examples={report['examples']} "
            f"ours_mb_s={megabytes / ours.seconds:.1f} "
            f"ref_mb_s={megabytes / ref.seconds:.1f} "
            f"speedup={speedup:.2f} "
            f"cpu_ratio={ref.cpu_s / ours.cpu_s:.2f} "
            f"ours_max_rss_mb={ours.max_rss_mb:.0f} "
            f"ours_tree_pss_mb={ours.tree_pss_mb:.0f} "
            f"ref_max_rss_mb={ref.max_rss_mb:.0f} rss_ratio={rss_ratio:.3f} "
            f"tokens_identical={ours_tokens == ref_tokens} cores={os.cpu_count()} "
            f"load_before={load_before:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
