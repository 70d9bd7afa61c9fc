"""Core layer: the files feature: upload, validate, files and rm-file, and the file check."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, TypeVar

from handlers.datasets import (
    DatasetReport,
    Format,
    Kind,
    example_hashes,
    summary_lines,
    validate_file,
)
from handlers.errors import (
    ConflictError,
    DataError,
    NotFoundError,
    ProviderError,
    ProviderErrorKind,
    UsageError,
)
from handlers.families import resolve_family, shown_provider
from handlers.features.progress import current, stage
from handlers.features.routing import Routes
from handlers.model import (
    Actor,
    ProviderFile,
    TeamFile,
)
from handlers.ports import (
    Clock,
    Provider,
    ProviderDirectory,
    Store,
    Tokenizer,
)
from handlers.pricing import PriceTable, estimate
from handlers.profile import ProviderProfile
from handlers.replies import (
    Field,
    Reply,
    Table,
    Tone,
)
from handlers.requests import (
    SPECS,
    FilesRequest,
    RmFileRequest,
    UploadRequest,
    ValidateRequest,
)
from handlers.scope import account_of
from handlers.sources import local_file, remove_private, write_private
from handlers.text import count, size_short, timestamp

_T = TypeVar("_T")


class Files:
    """A team's training files: checked, uploaded once, listed and removed."""

    def __init__(
        self,
        *,
        store: Store,
        providers: ProviderDirectory,
        clock: Clock,
        tokenizer: Tokenizer,
        prices: PriceTable,
        cpu: Executor,
        scratch: Path | None = None,
    ) -> None:
        self._scratch = scratch
        """Where copies for a replay's upload are written (None: the system's temp dir)."""
        self._store = store
        self._providers = providers
        self._clock = clock
        self._tokenizer = tokenizer
        self._prices = prices
        self._cpu = cpu

    def routes(self) -> Routes:
        return {
            UploadRequest: self.upload,
            ValidateRequest: self._validate,
            RmFileRequest: lambda r, a: self._rm_file(a.team_id, r.alias),
            FilesRequest: lambda r, a: self._files(a.team_id),
        }

    async def check_chat(self, path: Path) -> DatasetReport | None:
        """Check a chat file off the event loop (a dataset draft before its upload)."""
        return await self._cpu_bound(self._check_file, path, "chat", name=path.name)

    async def upload(self, request: UploadRequest, actor: Actor) -> Reply:
        path, filename = local_file(request.file, actor, "upload")
        alias = request.alias or _default_alias(filename)
        team = actor.team_id
        family = await resolve_family(self._providers, team, request.provider)
        provider = await self._providers.for_team(team, family)
        # Reading a large file must not stall every other team's commands on the event loop.
        # The family's limits and its converter judge it: what its form cannot hold is said
        # per line here, before anything is uploaded.
        report = await self._cpu_bound(
            self._check_file, path, request.format, name=filename, profile=provider.profile
        )
        if report is None:
            raise UsageError(f"No readable file {filename}.", usage=SPECS["upload"].usage_ref)
        if report.counts.keys() & _NOT_JSONL:
            # force=yes cannot help: no provider takes a file that is not JSON Lines.
            raise DataError(
                f"{filename} is not a JSONL file.",
                problems=(*report.problems, NOT_JSONL_HINT),
            )
        if not report.ok and not request.force:
            raise DataError(
                f"{filename} is not ready for fine-tuning: "
                f"{count(report.problem_count, 'error')}.",
                problems=(*report.problems, _force_hint(report)),
            )
        if report.counts.get(Kind.NOT_CONVERTIBLE.value):
            # force=yes cannot help: the provider's form has no way to write these lines.
            raise DataError(
                f"{filename} cannot be sent to {provider.profile.label} as it is.",
                problems=tuple(p for p in report.problems if "[" + _UNCONVERTIBLE in p),
            )
        same = await self._store.find_file_by_sha256(
            team, report.sha256, provider=provider.profile.name
        )
        if same is not None:
            return Reply(
                title=f"{filename} was already uploaded as '{same.alias}' "
                f"({same.provider_file_id}).",
                lines=(
                    "Nothing uploaded again. Start a job with "
                    f"/finetune start file={same.alias} model=MODEL",
                ),
            )
        if await self._store.get_file(team, alias) is not None:
            raise ConflictError(
                f"The alias '{alias}' is taken in this team; pick another with alias=NAME."
            )
        uploaded = await self._record(
            provider, path, filename, alias=alias, report=report, team=team, by=actor.user_id
        )
        return Reply(
            title=f"Uploaded {filename} as '{alias}'",
            fields=(
                Field(name="File id", value=uploaded.id),
                Field(name="Examples", value=str(report.examples)),
                Field(name="Size", value=size_short(report.bytes)),
                Field(name="Format", value=report.format),
            ),
            lines=(
                *_forced_lines(report),
                *(p for p in report.problems if report.ok),
                f"Next: /finetune start file={alias} model=MODEL",
            ),
            tone=Tone.SUCCESS,
        )

    async def _record(
        self,
        provider: Provider,
        path: Path,
        filename: str,
        *,
        alias: str,
        report: DatasetReport,
        team: str,
        by: str | None,
    ) -> ProviderFile:
        """Upload a checked file and record it under `alias`, keeping a copy of a small one."""
        uploaded = await self._upload_file(provider, path, filename)
        record = TeamFile(
            team_id=team,
            alias=alias,
            provider_file_id=uploaded.id,
            filename=filename,
            sha256=report.sha256,
            format=report.format,
            examples=report.examples,
            bytes=report.bytes,
            tokens=report.total_tokens,
            created_at=self._clock.now(),
            uploaded_by=by,
            provider=provider.profile.name,
            account=account_of(provider),
        )
        try:
            await self._store.add_file(record)
        except ConflictError:
            await provider.delete_file(uploaded.id)  # a racing upload took the alias first
            raise
        if report.bytes <= LOCAL_COPY_MAX_BYTES:
            # OpenAI does not hand fine-tuning files back; try, compare and replays read it.
            content = await asyncio.to_thread(path.read_bytes)
            await self._store.save_file_copy(team, uploaded.id, content)
        return uploaded

    async def copy_to(
        self, file: TeamFile, family: str, *, actor: Actor, model: str
    ) -> tuple[TeamFile, bool]:
        """The team's file with `file`'s bytes at `family`, and whether it was uploaded now:
        one there already (found by its hash), else the copy kept at upload, checked for
        `model` and uploaded there once, under the alias `<alias>-<family>`."""
        team = actor.team_id
        provider = await self._providers.for_team(team, family)
        label = provider.profile.label
        same = await self._store.find_file_by_sha256(
            team, file.sha256, provider=provider.profile.name
        )
        if same is not None:
            return same, False
        content = await self._store.file_copy(team, file.provider_file_id)
        if content is None:
            why = (
                f"files over {size_short(LOCAL_COPY_MAX_BYTES)} are not kept, and it is "
                f"{size_short(file.bytes)}"
                if file.bytes > LOCAL_COPY_MAX_BYTES
                else "it was uploaded before the bot kept copies"
            )
            raise DataError(
                f"'{file.alias}' ({file.provider_file_id}) has no copy kept here ({why}), so "
                f"it cannot be sent to {label}.",
                problems=(
                    f"Upload it to {label}: share {file.filename} and run /finetune upload "
                    f"provider={family}, then run this start again (the upload is found by "
                    "its content).",
                ),
            )
        path = await asyncio.to_thread(write_private, content, self._scratch, kind="replay")
        try:
            report = await self._cpu_bound(
                self._check_file, path, file.format, model=model, profile=provider.profile
            )
            if report is None or report.sha256 != file.sha256:
                raise DataError(f"The kept copy of '{file.alias}' does not match its upload.")
            if not report.ok:
                raise DataError(
                    f"'{file.alias}' is not ready for {model} at {label}: "
                    f"{count(report.problem_count, 'error')}.",
                    problems=report.problems,
                )
            alias = await self._free_alias(team, f"{file.alias}-{family}")
            await self._record(
                provider,
                path,
                file.filename,
                alias=alias,
                report=report,
                team=team,
                by=actor.user_id,
            )
        finally:
            await asyncio.to_thread(remove_private, path)
        found = await self._store.get_file(team, alias)
        if found is None:  # removed between its upload and now
            raise NotFoundError(f"The copy of '{file.alias}' at {label} is gone; start again.")
        return found, True

    async def _free_alias(self, team: str, wanted: str) -> str:
        base = wanted[:60]
        for n in range(1, 100):
            alias = base if n == 1 else f"{base}-{n}"
            if await self._store.get_file(team, alias) is None:
                return alias
        raise ConflictError(f"Too many files named like '{base}'; remove some with rm-file.")

    async def _files(self, team: str) -> Reply:
        files = await self._store.list_files(team)
        if not files:
            return Reply(
                title="No files yet.",
                lines=("Share a .jsonl file, then run /finetune upload alias=NAME",),
            )
        return Reply(
            title=f"{count(len(files), 'file')}",
            table=Table(
                headers=(
                    "alias",
                    "file id",
                    "format",
                    "examples",
                    "tokens",
                    "size",
                    "uploaded",
                    "provider",
                ),
                rows=tuple(
                    (
                        f.alias,
                        f.provider_file_id,
                        f.format,
                        f"{f.examples:,}",
                        f"{f.tokens:,}" if f.tokens is not None else "—",
                        size_short(f.bytes),
                        timestamp(f.created_at),
                        shown_provider(f.provider, f.account),
                    )
                    for f in files
                ),
            ),
        )

    async def _cpu_bound(self, work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run CPU-heavy work on the service's bounded pool, with this task's context
        (the progress callback rides in a context variable)."""
        run = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._cpu, run)

    def _check_file(
        self,
        path: Path,
        data_format: str | None,
        *,
        model: str = "",
        training: Path | None = None,
        name: str = "",
        profile: ProviderProfile | None = None,
    ) -> DatasetReport | None:
        """Validate in the calling (worker) thread; None when there is no such file. `name`
        is what the user calls the file: a chat file's path is the bot's own temp file,
        which no reply (and so no audit entry) may show. `profile`: the family the file is
        for, whose limits and converter apply."""
        if not path.is_file():
            return None
        report = current.get()
        limits = profile.limits if profile is not None else None
        # A model the price table knows has its own limit; else the family's (the table is
        # the deployment's family's, and a file may be meant for another), else the default.
        own = limits.tokens_per_example if limits else None
        if model and (self._prices.lookup(model) is not None or own is None):
            token_limit = self._prices.token_limit(model)
        else:
            token_limit = own or DEFAULT_TOKEN_LIMIT
        try:
            return validate_file(
                path,
                self._tokenizer,
                model=model,
                token_limit=token_limit,
                format=Format(data_format) if data_format else None,
                training_hashes=example_hashes(training) if training is not None else None,
                progress=stage(report, "validating"),
                limits=limits,
                convert=profile.converts if profile is not None else None,
            )
        except OSError as error:  # gone or changed while read: say so, not "went wrong"
            reason = error.strerror or "it could not be read"
            raise UsageError(f"Could not read {name or 'the file'}: {reason}.") from None

    async def _upload_file(self, provider: Provider, path: Path, filename: str) -> ProviderFile:
        progress = stage(current.get(), "uploading")
        if progress is None:
            return await provider.upload_file(path, filename=filename)
        return await provider.upload_file(path, filename=filename, progress=progress)

    async def _validate(self, request: ValidateRequest, actor: Actor) -> Reply:
        # The team's default family judges the file (its limits, what its form can hold), and
        # its default model prices the estimate when none is named.
        profile = (await self._providers.for_team(actor.team_id)).profile
        model = request.model or profile.default_model
        # The validation file first: a path typed there is refused (and audited) even when
        # the training file is missing.
        other = (
            local_file(request.validation, actor, "validate")
            if request.validation is not None
            else None
        )
        path, name = local_file(request.file, actor, "validate")
        usage = SPECS["validate"].usage_ref
        report = await self._cpu_bound(
            self._check_file, path, request.format, model=model, name=name, profile=profile
        )
        if report is None:
            raise UsageError(f"No readable file {name}.", usage=usage)
        # What to fix (by line) first, then the statistics; a cost only for valid examples.
        lines = [*report.problems, *([""] if report.problems else []), *summary_lines(report)]
        if report.examples:
            cost = estimate(
                self._prices,
                model=model,
                examples=report.examples,
                billed_tokens_per_epoch=report.billed_tokens_per_epoch,
            )
            lines += cost.lines(exact_tokens=report.exact_tokens)
        worst = report
        if other is not None:
            checked = await self._cpu_bound(
                self._check_file,
                other[0],
                report.format,
                model=model,
                training=path,
                name=other[1],
                profile=profile,
            )
            if checked is None:
                raise UsageError(f"No readable file {other[1]}.", usage=usage)
            lines += ["", f"Validation file {other[1]}:"]
            lines += checked.problems
            lines += summary_lines(checked)
            worst = checked if not checked.ok else report
        if worst.ok and report.ok:
            title, tone = f"{name} is ready for fine-tuning", Tone.SUCCESS
            if report.warning_count:
                title += f" ({count(report.warning_count, 'warning')})"
        else:
            errors = report.problem_count + (worst.problem_count if worst is not report else 0)
            title, tone = f"{name}: {count(errors, 'error')} to fix before uploading", Tone.ERROR
        return Reply(title=title, lines=tuple(lines), tone=tone)

    async def _rm_file(self, team: str, alias: str) -> Reply:
        record = await self._store.get_file(team, alias)
        if record is None:
            raise NotFoundError(f"No file '{alias}' in this team. See /finetune files.")
        provider = await self._providers.for_team(team, record.provider or None)
        try:
            await provider.delete_file(record.provider_file_id)
        except ProviderError as error:
            if error.kind is not ProviderErrorKind.NOT_FOUND:
                raise  # the provider still has it: keep the alias so the file can be found
        await self._store.delete_file(team, record.alias)
        return Reply(
            title=f"Deleted '{record.alias}' ({record.provider_file_id})",
            lines=("Jobs already started with it are not affected.",),
            tone=Tone.SUCCESS,
        )


LOCAL_COPY_MAX_BYTES = 8 << 20
"""Files up to this size are also kept in the store, as test sets for try and compare."""

DEFAULT_TOKEN_LIMIT = 65_536
"""Tokens per example when neither a model nor the family names a limit."""

_UNCONVERTIBLE = Kind.NOT_CONVERTIBLE.value
# File-level findings only (a line that is not UTF-8 is a line's problem, and may be forced).
_NOT_JSONL = frozenset(
    k.value
    for k in (
        Kind.BINARY,
        Kind.COMPRESSED,
        Kind.EMPTY_FILE,
        Kind.CSV,
        Kind.PLAIN_TEXT,
    )
)


def not_jsonl_name(filename: str) -> str:
    """What a chat adapter says of a file whose name is not .jsonl, before fetching it."""
    return (
        f"{filename} is not a .jsonl file: fine-tuning data is JSON Lines, one example per "
        'line, e.g. {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", '
        '"content": "..."}]}; convert it and give the bot the .jsonl.'
    )


NOT_JSONL_HINT = (
    "Convert it and upload the .jsonl: every provider refuses a file that is not JSON Lines, "
    "so force=yes cannot send it."
)


def _force_hint(report: DatasetReport) -> str:
    """How to go on: fix the lines; force=yes only where the provider could still take it."""
    if report.counts.get(_UNCONVERTIBLE):
        return (
            "Fix them and upload again: lines the provider's form cannot express are never "
            "sent, even with force=yes."
        )
    return FORCE_RISK


FORCE_RISK = (
    "Fix them and upload again, or add force=yes to upload anyway: the provider may refuse "
    "the file when a job starts (the job fails while validating files), or train on the "
    "broken examples you are billed for."
)


def _forced_lines(report: DatasetReport) -> tuple[str, ...]:
    if report.ok:
        return ()
    return (
        f"Uploaded with {count(report.problem_count, 'error')} because force=yes: the job may "
        "fail "
        "while the provider validates the file, or train on the broken examples.",
    )


def _default_alias(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if filename.endswith(".jsonl") else filename
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-.")
    return (cleaned or "file")[:64]
