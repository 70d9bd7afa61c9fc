"""Hostile text through the real core: a file name, an alias, a training file's prompts and
answers (so the model's answers), a prompt, a suffix and a provider's error message, through
upload, start, the watcher's notices, try and compare; every reply and notice, rendered for
Slack and Discord, holds no live mention and no broken formatting, and the CSV no formula."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.replies import Reply, Tone, UserRef, plain, refs_of
from handlers.requests import StartRequest, TryRequest, UploadRequest, build_request
from handlers.sources import PrivateFile
from tests.bot.markup import hostile
from tests.bot.render_checks import SLACK_USER, check_discord, check_slack
from tests.world import actor, world

MODEL = "gpt-4.1-mini-2025-04-14"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _dataset(prompt: str, answer: str, n: int) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"{prompt} {i}"},
                    {"role": "assistant", "content": f"{answer} {i}"},
                ]
            }
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


async def _scenario(
    *, file_name: str, alias: str, prompt: str, answer: str, suffix: str, error: str
) -> list[Reply]:
    who = actor(user=SLACK_USER)
    replies: list[Reply] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with world(root) as w:
            train = root / "train.jsonl"
            train.write_bytes(_dataset(prompt, answer, 12))
            valid = root / "valid.jsonl"
            valid.write_bytes(_dataset(prompt, answer, 11))

            async def run(request: object) -> Reply:
                reply = await w.service.handle(request, who)  # type: ignore[arg-type]
                replies.append(reply)
                return reply

            named = await run(
                UploadRequest(file=PrivateFile(path=train, name=file_name), alias=alias)
            )
            if named.tone is not Tone.SUCCESS:  # an alias the core refuses, named in the reply
                uploaded = await run(
                    UploadRequest(file=PrivateFile(path=train, name=file_name), alias="t")
                )
                assert uploaded.tone is Tone.SUCCESS, uploaded
            (kept,) = await w.store.list_files(who.team_id)
            t = kept.alias
            await run(UploadRequest(file=PrivateFile(path=valid, name=file_name), alias="v"))
            await run(StartRequest(training_file=t, model=MODEL, suffix=suffix))
            w.provider.inject_fault(
                ProviderError(ProviderErrorKind.BAD_REQUEST, error), operation="create_job"
            )
            refused = await run(StartRequest(training_file=t, model=MODEL, suffix="s1"))
            assert refused.tone is Tone.ERROR
            started = await run(
                StartRequest(training_file=t, validation_file="v", model=MODEL, suffix="s1")
            )
            assert started.tone is Tone.SUCCESS, started
            await w.settle(seconds=200)
            replies += [post.reply for post in w.notifier.posts]
            job_id = plain(started.title).split()[1]
            (made,) = [m for m in await w.store.list_models(who.team_id) if m.job_id == job_id]
            await run(TryRequest(model=MODEL, prompt=prompt))
            for i in range(3):
                await run(TryRequest(model=made.name, prompt=f"{prompt} {i}"))
            compared = await run(build_request("compare", {"model_a": made.name, "n": 11}))
            assert compared.attachments, compared
            replies += [post.reply for post in w.notifier.posts]
    return replies


@settings(
    max_examples=5,
    deadline=None,
    # Each example runs a bot's life from upload to comparison; shrinking would take minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    file_name=hostile.map(lambda h: f"{h}.jsonl"),
    alias=hostile,
    prompt=hostile,
    answer=hostile,
    suffix=hostile,
    error=hostile,
)
def test_user_file_model_and_provider_text_never_mentions_anyone(
    file_name: str, alias: str, prompt: str, answer: str, suffix: str, error: str
) -> None:
    replies = asyncio.run(
        _scenario(
            file_name=file_name,
            alias=alias,
            prompt=prompt,
            answer=answer,
            suffix=suffix,
            error=error,
        )
    )
    for reply in replies:
        check_slack(reply)
        check_discord(reply)
        assert set(refs_of([reply.title, *reply.lines, reply.footer])) <= {
            UserRef(user_id=SLACK_USER)
        }, "the only member the core names here is the requester"
        for attachment in reply.attachments:
            if attachment.mime_type != "text/csv":
                continue
            rows = list(
                csv.reader(io.StringIO(attachment.content.decode("utf-8-sig"), newline=""))
            )
            for row in rows[1:]:
                assert len(row) == len(rows[0]), "a cell split its row"
                for cell in (row[1], row[2], row[3], row[4], row[11]):
                    assert not cell.startswith(FORMULA), row
