"""The runner's side of each target: who the personas are there, and sending an action's calls.

A driver turns an :class:`~orgforge.simulate.behaviours.Action`'s calls into target requests
(the Asana target on the official SDK; the Salesforce target's REST client) and returns the
remote ids of what they created. A failed call raises :class:`ActionError`; ``pause`` says the
job can't go on without someone fixing something (a revoked token).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orgforge.clock import Clock
from orgforge.errors import ConfigError
from orgforge.simulate.objects import JobObjects
from orgforge.simulate.personas import select, world_personas
from orgforge.simulate.scheduler import Persona

if TYPE_CHECKING:
    from orgforge.config import Config
    from orgforge.simulate.jobs import Job
    from orgforge.world.store import World


class ActionError(Exception):
    def __init__(self, code: str, message: str, pause: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.pause = pause


def remote_id_of(objects: JobObjects, created: dict[str, str], what: str) -> Any:
    """key → remote id of a job object: made earlier in this action (``created``, which it
    also caches into) or by an earlier one; ActionError when it has none."""

    def remote_id(key: str) -> str:
        if key not in created:
            found = objects.remote_ids([key])
            if key not in found:
                raise ActionError("MISSING_PARENT", f"{key} has no {what}")
            created[key] = found[key]
        return created[key]

    return remote_id


class AsanaDriver:
    name = "asana"
    sync_target = "asana"

    def __init__(self, config: Config, environ: dict[str, str] | None, limiter: Clock) -> None:
        from orgforge.targets.asana.ops import make_target

        self.config = config
        self.target = make_target(config, environ, clock=limiter)
        self._facts: dict[tuple[str, str], dict[str, Any] | Exception] = {}

    def facts(self, job: Job) -> dict[str, Any]:
        """The job's workspace, team and team members (read once per runner)."""
        wanted_ws = job.options.get("workspace") or self.config.asana.workspace or ""
        wanted_team = str(job.options.get("team") or "")
        cache_key = (wanted_ws, wanted_team)
        known = self._facts.get(cache_key)
        if isinstance(known, Exception):
            raise known  # the same target failed for another job of this runner: fail fast
        if known is None:
            try:
                self._facts[cache_key] = self._read_facts(job, wanted_ws, wanted_team)
            except Exception as exc:
                self._facts[cache_key] = exc
                raise
        return self._facts[cache_key]

    def _read_facts(self, job: Job, wanted_ws: str, wanted_team: str) -> dict[str, Any]:
        from orgforge.targets.asana.ops import workspace_of

        workspace = workspace_of(self.target, wanted_ws or None)
        teams = self.target.teams(workspace)
        if wanted_team:
            chosen = [t for t in teams if wanted_team.lower() in (t["name"].lower(), t["gid"])]
            if not chosen:
                raise ConfigError(
                    f"job {job.id}: team {wanted_team!r} is not in workspace {workspace}",
                    "Teams: " + ", ".join(t["name"] for t in teams),
                )
            teams = chosen
        for team in teams:
            members = self.target.team_members(team["gid"])
            if members:
                break
        else:
            raise ConfigError(f"job {job.id}: no team with members in workspace {workspace}")
        return {
            "workspace": workspace,
            "team": str(team["gid"]),
            "team_name": team["name"],
            "members": [(str(m["gid"]), m.get("name") or str(m["gid"])) for m in members],
        }

    def personas(self, job: Job, world: World) -> list[Persona]:
        """The team's members, with the working hours of the world's User of the same name
        (the job's schedule for the others)."""
        facts = self.facts(job)
        known = world_personas(world, job.schedule)
        people = []
        for gid, name in facts["members"]:
            base = known.get(name)
            people.append(
                Persona(
                    name,
                    timezone=base.timezone if base else job.schedule.get("timezone", "UTC"),
                    start=base.start if base else job.schedule.get("start", 9),
                    end=base.end if base else job.schedule.get("end", 17),
                    country=job.schedule.get("country"),
                    gid=gid,
                    key=base.key if base else None,
                )
            )
        return select(people, job.personas, f"team {facts['team_name']}")

    def perform(
        self, calls: list[dict[str, Any]], objects: JobObjects, persona: Persona
    ) -> dict[str, str]:
        from orgforge.targets.asana import AsanaRecord, persona_name

        who = persona_name(persona.name)
        created: dict[str, str] = {}
        gid_of = remote_id_of(objects, created, "Asana gid")

        for call in calls:
            op = call["op"]
            if op == "create":
                refs = call.get("refs", {})
                lookup = {ref: gid_of(ref) for ref in refs.values()}
                record = AsanaRecord(call["key"], call["object"], dict(call["values"]), refs, who)
                result = self.target.create_one(record, lookup)
                if result.ok:
                    created[call["key"]] = str(result.remote_id)
            elif op == "update":
                result = self.target.update(
                    call["object"], gid_of(call["ref"]), call["values"], who
                )
            elif op == "add_to_section":
                result = self.target.add_to_section(
                    gid_of(call["ref"]), gid_of(call["section"]), who
                )
            else:
                raise ActionError("BAD_ACTION", f"unknown call {op!r}")
            if result.error is not None:
                error = result.error
                raise ActionError(error.code, error.message, pause=error.code == "INVALID_TOKEN")
        return created

    def figures(self) -> dict[str, Any]:
        return self.target.report.as_dict()


def make_driver(target: str, config: Config, environ: dict[str, str] | None, limiter: Clock) -> Any:
    """The registered target's driver (TargetPlugin.simulate)."""
    from orgforge.plugins import target as registered

    return registered(target, "simulate").simulate(config, environ, limiter)
