"""The money before and after: a start's estimate (billed tokens, price, source), the
confirmation a costly typed start asks for (its Start button acts once), the cost at the end,
and the warning of an old price table."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from handlers.actions import button_request
from handlers.pricing import PriceTable, stale_warning
from handlers.profile import JobStatus
from handlers.replies import Tone, Visibility, plain
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
START = f"/finetune start file=train model={MODEL} epochs=2 suffix=money"


def _field(reply: object, name: str) -> str:
    fields = getattr(reply, "fields", ())
    return next(plain(f.value) for f in fields if f.name == name)


async def _uploaded(w: World, tmp_path: Path) -> None:
    reply = await w.run(
        f"/finetune upload {write_dataset(tmp_path / 't.jsonl')} alias=train", actor()
    )
    assert reply.tone is Tone.SUCCESS, reply


async def test_start_reply_names_billed_tokens_price_and_source(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _uploaded(w, tmp_path)
        started = await w.run(START, actor())
        assert "Started" in started.title, started
        cost = _field(started, "Est. cost")
        training = await w.store.get_file("slack:T1", "train")
        assert training is not None
        assert training.tokens
        assert f"{2 * training.tokens:,} billed tokens" in cost
        assert "per 1M tokens" in cost
        assert "$" in cost
        assert "local estimate from the price table" in cost
        assert "prices as of 2025-08-01" in cost


async def test_a_costly_typed_start_waits_for_its_start_button_which_acts_once(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, confirm_over=0.0) as w:
        await _uploaded(w, tmp_path)
        asked = await w.run(START, actor())
        assert asked.visibility is Visibility.EPHEMERAL
        assert "Start " in plain(asked.title)
        assert "?" in plain(asked.title)
        assert "billed tokens" in _field(asked, "Est. cost")
        assert await w.store.list_jobs("slack:T1") == [], "nothing is created before the press"
        (button,) = asked.buttons
        assert button.label == "Start"
        assert button.value.startswith("cs-")
        # Another member cannot press it, and their press does not use it up.
        other = await w.service.handle(
            button_request(button.action, button.value), actor(user="U2")
        )
        assert other.tone is Tone.ERROR
        assert "no longer waiting" in plain(other.title)
        pressed = await w.service.handle(button_request(button.action, button.value), actor())
        assert "Started" in plain(pressed.title), pressed
        assert pressed.visibility is Visibility.EPHEMERAL, "the channel gets the card"
        again = await w.service.handle(button_request(button.action, button.value), actor())
        assert again.tone is Tone.ERROR
        assert "nothing was started" in plain(again.title)
        assert len(await w.store.list_jobs("slack:T1")) == 1


async def test_confirm_yes_starts_at_once_and_the_threshold_is_the_operators(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, confirm_over=0.0) as w:
        await _uploaded(w, tmp_path)
        started = await w.run(START + " confirm=yes", actor())
        assert "Started" in plain(started.title), started
    async with world(tmp_path / "high", confirm_over=1000.0) as w:
        await _uploaded(w, tmp_path)
        assert "Started" in plain((await w.run(START, actor())).title)
    async with world(tmp_path / "bad") as w:
        refused = await w.run(START + " confirm=please", actor())
        assert refused.tone is Tone.ERROR
        assert "confirm=" in plain(refused.title)


async def test_completion_shows_duration_trained_tokens_and_cost_at_the_estimate_price(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        await _uploaded(w, tmp_path)
        started = await w.run(START, actor())
        job_id = plain(started.title).split()[-1]
        await w.settle(seconds=400)
        job = await w.store.get_job("slack:T1", job_id)
        assert job is not None
        assert job.state.status == JobStatus.SUCCEEDED
        notice = next(p.reply for p in w.notifier.posts if ":status:succeeded" in p.dedupe_key)
        spend = await w.store.get_spend("slack:T1", job_id)
        assert spend is not None
        assert spend.price_per_million is not None
        tokens = job.state.trained_tokens
        assert tokens
        assert _field(notice, "Duration")
        assert _field(notice, "Trained tokens") == f"{tokens:,}"
        cost = _field(notice, "Cost")
        expected = tokens * spend.price_per_million / 1_000_000
        assert f"${expected:,.2f}" in cost or f"${expected:.2f}" in cost
        assert f"${spend.price_per_million:g} per 1M" in cost


def test_an_old_price_table_warns_with_how_to_override_it() -> None:
    from bot.providers import registry
    from bot.providers.prices import family_prices

    table: PriceTable = family_prices(registry.family("openai"))
    assert table.as_of
    old = stale_warning(table, date(2026, 12, 3))
    assert old is not None
    assert table.as_of in old
    assert "FINETUNE_BOT_PRICES_FILE" in old
    assert stale_warning(replace(table, as_of="2026-11-01"), date(2026, 12, 3)) is None
    # Every bundled table carries a readable as-of date, so the check can run on each.
    for name in ("openai", "together", "fireworks", "sandbox", "sandbox-together"):
        dated = family_prices(registry.family(name)).as_of
        assert date.fromisoformat(dated) <= date(2026, 12, 3), name
