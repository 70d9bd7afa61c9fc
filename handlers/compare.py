"""Core layer: a side-by-side comparison run: test set, bounded-concurrency calls, scores, CSV.

Pure policy over the Provider port: no clock, no sleeps. Calls go through `concurrency`
workers pulling from one queue, so no more than that many requests are ever in flight; a
cancel or the first provider error stops new calls while the ones in flight finish, and every
answer received is kept in the result.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from handlers.chat import ChatMessage, ChatResult
from handlers.errors import DataError, FineTuneError, ProviderError
from handlers.ports import Provider
from handlers.pricing import PriceTable
from handlers.spreadsheet import csv_bytes, csv_cell
from handlers.text import count

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_EXAMPLES = 500
MAX_TEST_SET_BYTES = 64 << 20
MAX_PROBLEMS_SHOWN = 5
DISAGREEMENTS_SHOWN = 3
MAX_ANSWER_TOKENS = 1024
GRADER_RUBRIC = (
    "You grade an answer against a reference answer. Reply with one whole number from 0 to "
    "10 and nothing else: 10 means the answer says what the reference says (wording may "
    "differ), 0 means it is wrong or unrelated."
)
_PUNCT = str.maketrans("", "", string.punctuation)
_GRADE = re.compile(r"\b(10|[0-9])\b")


@dataclass(frozen=True, slots=True, kw_only=True)
class TestCase:
    index: int
    """The example's line number in the file (1-based)."""
    prompt: tuple[ChatMessage, ...]
    reference: str

    @property
    def question(self) -> str:
        return next((m.content for m in reversed(self.prompt) if m.role == "user"), "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One model's answer to one test case, scored; `error` names a failed call."""

    content: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    exact: bool = False
    normalized: bool = False
    grade: float | None = None
    """The grader's score in [0, 1]; None without a grader or when grading failed."""
    error: str | None = None
    grader_error: str | None = None

    @property
    def score(self) -> float:
        """The grade when there is one, else 1.0 for a normalized match."""
        if self.grade is not None:
            return self.grade
        return 1.0 if self.normalized else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSummary:
    model: str
    answered: int
    exact: int
    normalized: int
    graded: int
    grade_mean: float | None
    latency_mean_s: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    errors: int


@dataclass(slots=True, kw_only=True)
class CompareRun:
    """A run in progress: its answers fill in as calls return (mutable on purpose)."""

    id: str
    model_a: str
    model_b: str
    cases: tuple[TestCase, ...]
    source: str
    grader: str | None = None
    answers: dict[tuple[int, str], Answer] = field(default_factory=dict)
    cancelled_by: str | None = None
    stopped_by: str | None = None
    """The provider error that stopped the run, named."""
    done_calls: int = 0

    @property
    def models(self) -> tuple[str, str]:
        return (self.model_a, self.model_b)

    @property
    def total_calls(self) -> int:
        return len(self.cases) * 2

    @property
    def finished(self) -> bool:
        return self.done_calls >= self.total_calls

    def cancel(self, user: str) -> None:
        self.cancelled_by = self.cancelled_by or user

    @property
    def complete_cases(self) -> list[TestCase]:
        """Cases both models answered (possibly with an error)."""
        return [
            c
            for c in self.cases
            if (c.index, self.model_a) in self.answers and (c.index, self.model_b) in self.answers
        ]


Progress = Callable[[CompareRun], Awaitable[None]]


def normalize(text: str) -> str:
    """Case, punctuation and whitespace removed: "Reset it, please." == "reset it please"."""
    return " ".join(text.casefold().translate(_PUNCT).split())


def parse_test_set(content: bytes, *, limit: int) -> tuple[TestCase, ...]:
    """The first `limit` chat examples; the last assistant message of each is the reference.

    Raises DataError naming the lines when the file is empty, not chat format or malformed.
    """
    if len(content) > MAX_TEST_SET_BYTES:
        raise DataError(
            f"The test set is {len(content):,} bytes; at most {MAX_TEST_SET_BYTES:,} are read."
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("The test set is not UTF-8 text.") from None
    cases: list[TestCase] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(cases) >= limit:
            break
        case, problem = _case(number, line)
        if problem is not None:
            problems.append(problem)
        elif case is not None:
            cases.append(case)
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise DataError(
            f"The test set has {count(len(problems), 'malformed example')}; fix them or pick "
            "another file (a chat file whose examples end with an assistant answer).",
            problems=(*shown, *((f"… and {more} more",) if more else ())),
        )
    if not cases:
        raise DataError("The test set is empty: no chat example to run.")
    return tuple(cases)


def _case(number: int, line: str) -> tuple[TestCase | None, str | None]:
    try:
        item = json.loads(line)
    except ValueError:
        return None, f"line {number}: not valid JSON"
    messages = item.get("messages") if isinstance(item, dict) else None
    if not isinstance(messages, list) or not messages:
        return None, f"line {number}: no 'messages' list (not a chat example)"
    parsed: list[ChatMessage] = []
    for message in messages:
        if not isinstance(message, dict):
            return None, f"line {number}: a message is not an object"
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            return None, f"line {number}: a message lacks a text role or content"
        parsed.append(ChatMessage(role=role, content=content))
    last = max((i for i, m in enumerate(parsed) if m.role == "assistant"), default=None)
    if last is None:
        return None, f"line {number}: no assistant message to use as the reference"
    if not any(m.role == "user" for m in parsed[:last]):
        return None, f"line {number}: no user message before the reference answer"
    return TestCase(
        index=number, prompt=tuple(parsed[:last]), reference=parsed[last].content
    ), None


async def run_comparison(
    run: CompareRun,
    providers: Mapping[str, Provider],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
) -> CompareRun:
    """Fill `run.answers`: both models on every case, graded when a grader is set; each model
    (and the grader) answers at its own provider, `providers[name]`, so two families compare."""
    queue: asyncio.Queue[tuple[TestCase, str]] = asyncio.Queue()
    for case in run.cases:
        for model in run.models:
            queue.put_nowait((case, model))

    async def worker() -> None:
        while not queue.empty():
            if run.cancelled_by is not None or run.stopped_by is not None:
                return
            case, model = queue.get_nowait()
            run.answers[(case.index, model)] = await _answer(run, providers, case, model)
            run.done_calls += 1
            if progress is not None:
                await progress(run)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return run


async def _answer(
    run: CompareRun, providers: Mapping[str, Provider], case: TestCase, model: str
) -> Answer:
    try:
        result = await providers[model].chat(model, case.prompt, max_tokens=MAX_ANSWER_TOKENS)
    except FineTuneError as error:
        # The first failed call stops the run; the answers already in stay.
        run.stopped_by = run.stopped_by or f"{model}: {_named(error)}"
        return Answer(error=_named(error))
    answer = _scored(result, case.reference)
    if run.grader is None:
        return answer
    try:
        graded = await providers[run.grader].chat(
            run.grader,
            (
                ChatMessage(role="system", content=GRADER_RUBRIC),
                ChatMessage(
                    role="user",
                    content=f"Question:\n{case.question}\n\nReference answer:\n"
                    f"{case.reference}\n\nAnswer to grade:\n{result.content}",
                ),
            ),
            max_tokens=8,
        )
    except FineTuneError as error:
        return replace(answer, grader_error=_named(error))
    found = _GRADE.search(graded.content)
    if found is None:
        return replace(answer, grader_error=f"the grader said {graded.content[:40]!r}")
    return replace(answer, grade=int(found.group(1)) / 10)


def _named(error: FineTuneError) -> str:
    if isinstance(error, ProviderError) and error.detail and error.detail not in error.message:
        return f"{error.message} ({error.detail[:120]})"
    return error.message


def _scored(result: ChatResult, reference: str) -> Answer:
    return Answer(
        content=result.content,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        latency_s=result.latency_s,
        exact=result.content.strip() == reference.strip(),
        normalized=normalize(result.content) == normalize(reference),
    )


def summarize(run: CompareRun, model: str, prices: PriceTable) -> ModelSummary:
    answers = [run.answers[(c.index, model)] for c in run.complete_cases]
    ok = [a for a in answers if a.error is None]
    grades = [a.grade for a in ok if a.grade is not None]
    prompt_tokens = sum(a.prompt_tokens for a in ok)
    completion_tokens = sum(a.completion_tokens for a in ok)
    return ModelSummary(
        model=model,
        answered=len(ok),
        exact=sum(a.exact for a in ok),
        normalized=sum(a.normalized for a in ok),
        graded=len(grades),
        grade_mean=sum(grades) / len(grades) if grades else None,
        latency_mean_s=sum(a.latency_s for a in ok) / len(ok) if ok else None,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=prices.chat_cost(model, prompt_tokens, completion_tokens),
        errors=len(answers) - len(ok),
    )


def disagreements(run: CompareRun, *, limit: int = DISAGREEMENTS_SHOWN) -> list[TestCase]:
    """The cases where the two models' scores differ most (ties: file order)."""
    scored = []
    for case in run.complete_cases:
        a, b = run.answers[(case.index, run.model_a)], run.answers[(case.index, run.model_b)]
        gap = abs(a.score - b.score)
        if gap > 0:
            scored.append((-gap, case.index, case))
    return [case for _, _, case in sorted(scored, key=lambda s: (s[0], s[1]))[:limit]]


CSV_COLUMNS = (
    "line",
    "prompt",
    "reference",
    "model",
    "answer",
    "exact",
    "normalized",
    "grade",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "error",
)


def results_csv(run: CompareRun) -> bytes:
    """One row per example and model, every case that got an answer (or an error); text
    cells (prompts, answers, model names, errors) are neutralised, numbers are ours."""
    out = io.StringIO()
    # CRLF rows (RFC 4180): a cell holding a lone CR is quoted, so it cannot split a row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in run.cases:
        for model in run.models:
            answer = run.answers.get((case.index, model))
            if answer is None:
                continue
            writer.writerow(
                (
                    case.index,
                    csv_cell(case.question),
                    csv_cell(case.reference),
                    csv_cell(model),
                    csv_cell(answer.content),
                    int(answer.exact),
                    int(answer.normalized),
                    "" if answer.grade is None else f"{answer.grade:.1f}",
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    f"{answer.latency_s:.3f}",
                    csv_cell(answer.error or answer.grader_error or ""),
                )
            )
    return csv_bytes(out.getvalue())


__all__ = [
    "Answer",
    "CompareRun",
    "ModelSummary",
    "TestCase",
    "disagreements",
    "normalize",
    "parse_test_set",
    "results_csv",
    "run_comparison",
    "summarize",
]
