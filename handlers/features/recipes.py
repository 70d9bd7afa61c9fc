"""Core layer: the recipes feature: `start like=JOB`, a job's recipe replayed at any family.

The replay is a start like any other (budget, approval, one job per request); before it, the
recipe is translated through both families' profiles, anything that cannot carry is listed
and nothing is sent, and the data goes to the target from the copy kept at upload, once.
"""

from __future__ import annotations

from dataclasses import replace

from handlers.actions import button_value
from handlers.errors import DataError, NotFoundError
from handlers.families import pick_family
from handlers.features.files import Files
from handlers.features.jobs import Jobs
from handlers.features.routing import Routes
from handlers.model import Actor, Job, TeamFile
from handlers.ports import ProviderDirectory, Store
from handlers.profile import ProviderProfile
from handlers.recipe import Translation, lost_lines, recipe_lines, recipe_of, translate
from handlers.replies import Button, ButtonStyle, Reply, Tone
from handlers.requests import StartRequest, check_start
from handlers.text import clip_line, count


class Recipes:
    """Starts: a new one goes to the jobs feature; one `like` another job replays its recipe."""

    def __init__(
        self, *, store: Store, providers: ProviderDirectory, files: Files, jobs: Jobs
    ) -> None:
        self._store = store
        self._providers = providers
        self._files = files
        self._jobs = jobs

    def routes(self) -> Routes:
        return {StartRequest: self.start}

    async def start(self, request: StartRequest, actor: Actor) -> Reply:
        if request.like is None:
            return await self._jobs.start(request, actor)
        origin = await self._store.get_job(actor.team_id, request.like)
        if origin is None:
            raise NotFoundError(
                f"No job '{clip_line(request.like, 60)}' in this team. See /finetune list."
            )
        if request.provider is None and not request.model:
            return await self._plan(origin, actor)
        return await self._replay(origin, request, actor)

    # ------------------------------------------------------------------ the plan

    async def _plan(self, origin: Job, actor: Actor) -> Reply:
        """Where the recipe can run: each family the team can use, what carries, one button."""
        team = actor.team_id
        source = await self._profile(team, origin.provider or None)
        lines: list[str] = []
        buttons: list[Button] = []
        for family in await self._providers.available(team):
            target = await self._profile(team, family)
            model = self._model_for(origin, family, target, None)
            translation = self._translate(
                origin, StartRequest(model=model, training_file=""), source=source, target=target
            )
            same = family == (origin.provider or family)
            lines += ["", target.label + (" (the job's own provider)" if same else "") + ":"]
            lines.append(f"Base model: {model}" + ("" if same else _whose(model, origin, None)))
            lines += recipe_lines(
                translation, job_id=origin.id, source=source.label, target=target.label
            )[1:]
            lines += lost_lines(translation)
            command = f"/finetune start like={origin.id} provider={family} model={model}"
            lines.append(f"Type: {command}" + (" defaults=yes" if translation.lost else ""))
            buttons.append(
                Button(
                    label=f"Run on {target.label}"
                    + (" with its defaults" if translation.lost else ""),
                    action="replay",
                    value=button_value(origin.id, family, *(("yes",) if translation.lost else ())),
                    style=ButtonStyle.DEFAULT if same else ButtonStyle.PRIMARY,
                )
            )
        return Reply(
            title=f"Run the recipe of {origin.id} on…",
            lines=(
                "The same data (the copies kept at upload), options and suffix; options a "
                "provider cannot take are listed and left to its defaults only if you say so.",
                *lines,
            ),
            buttons=tuple(buttons),
        )

    # ------------------------------------------------------------------ the replay

    async def _replay(self, origin: Job, request: StartRequest, actor: Actor) -> Reply:
        team = actor.team_id
        family = pick_family(await self._providers.available(team), request.provider)
        target = await self._profile(team, family)
        source = await self._profile(team, origin.provider or None)
        model = self._model_for(origin, family, target, request.model or None)
        translation = self._translate(
            origin, replace(request, model=model, provider=family), source=source, target=target
        )
        shown = recipe_lines(
            translation, job_id=origin.id, source=source.label, target=target.label
        )
        if not request.model and family != origin.provider:
            shown.append(f"Base model: {model}{_whose(model, origin, target.label)}.")
        if translation.lost and not request.defaults:
            return Reply(
                title=f"Not started: {count(len(translation.lost), 'option')} of {origin.id} "
                f"cannot be carried to {target.label}",
                # What cannot carry comes first: it is what the team must decide.
                lines=(
                    *lost_lines(translation),
                    "",
                    *shown,
                    "",
                    "Nothing was uploaded or started.",
                ),
                buttons=(
                    Button(
                        label=f"Start with {target.label}'s defaults for these",
                        action="replay",
                        value=button_value(origin.id, family, "yes"),
                        style=ButtonStyle.PRIMARY,
                    ),
                ),
                tone=Tone.WARNING,
            )
        if translation.lost:
            shown.insert(
                0,
                f"Left to {target.label}'s defaults (defaults=yes): "
                + ", ".join(f"{x.option}={x.value}" for x in translation.lost)
                + ".",
            )
        # Refused options (a method the target lacks) are refused before any upload.
        check_start(translation.request, target)
        training, sent = await self._data(
            origin,
            request.training_file,
            origin.state.training_file,
            "training",
            family,
            model,
            actor,
        )
        shown += sent
        validation: TeamFile | None = None
        if request.validation_file or origin.state.validation_file:
            validation, sent = await self._data(
                origin,
                request.validation_file,
                origin.state.validation_file,
                "validation",
                family,
                model,
                actor,
            )
            shown += sent
        started = replace(
            translation.request,
            training_file=training.alias,
            validation_file=validation.alias if validation is not None else None,
            like=origin.id,
            defaults=False,
        )
        reply = await self._jobs.start(started, actor)
        return replace(reply, lines=(*shown, "", *reply.lines))

    async def _data(
        self,
        origin: Job,
        given: str | None,
        used: str | None,
        kind: str,
        family: str,
        model: str,
        actor: Actor,
    ) -> tuple[TeamFile, list[str]]:
        """The replay's file of one kind at `family`: the one typed, else the job's, sent there
        from its kept copy when the family does not hold it yet."""
        team = actor.team_id
        wanted = given or used or ""
        file = await self._store.get_file(team, wanted)
        if file is None:
            if given:
                raise NotFoundError(f"No file '{given}' in this team. See /finetune files.")
            raise DataError(
                f"The {kind} file of {origin.id} ({wanted}) is no longer one of this team's "
                "files (removed with rm-file?), so the recipe has no data to send.",
                problems=(
                    f"Upload the data with /finetune upload provider={family}, then run this "
                    f"again with {'file' if kind == 'training' else 'validation'}=ALIAS.",
                ),
            )
        if file.provider == family:
            return file, []
        copy, uploaded = await self._files.copy_to(file, family, actor=actor, model=model)
        note = (
            f"Sent '{file.alias}' to {family} as '{copy.alias}' (its copy kept at upload)."
            if uploaded
            else f"Using '{copy.alias}', the same data already at {family}."
        )
        return copy, [note]

    # ------------------------------------------------------------------ helpers

    async def _profile(self, team: str, family: str | None) -> ProviderProfile:
        return (await self._providers.for_team(team, family)).profile

    @staticmethod
    def _model_for(origin: Job, family: str, target: ProviderProfile, given: str | None) -> str:
        """The base model: the one typed, the job's own where the target fine-tunes it too (its
        own family; Azure trains OpenAI's models under their names), else the target's default
        (shown, so it is never a surprise)."""
        if given:
            return given
        if family == (origin.provider or family) or target.is_fine_tunable(origin.state.model):
            return origin.state.model
        return target.default_model

    @staticmethod
    def _translate(
        origin: Job,
        given: StartRequest,
        *,
        source: ProviderProfile,
        target: ProviderProfile,
    ) -> Translation:
        recipe, as_asked = recipe_of(origin)
        return translate(recipe, given=given, source=source, target=target, as_asked=as_asked)


def _whose(model: str, origin: Job, label: str | None) -> str:
    """Why a replay at another family trains on `model`: the job's own base, which the target
    trains too, or the target's default; `model=` picks another."""
    if model == origin.state.model:
        return (
            ", the job's own (model= picks another)" if label else " (the job's own; model= picks)"
        )
    if label:
        return f", {label}'s default (model= picks another)"
    return " (its default; model= picks)"
