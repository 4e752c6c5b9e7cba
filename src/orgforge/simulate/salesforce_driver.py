"""The Salesforce side of the runner: the world's loaded records, and REST calls through the
Salesforce target's client (composite sobjects: one result per record, errors parsed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orgforge.clock import Clock
from orgforge.simulate.drivers import ActionError, remote_id_of
from orgforge.simulate.objects import JobObjects
from orgforge.simulate.personas import select, world_personas
from orgforge.simulate.scheduler import Persona

if TYPE_CHECKING:
    from orgforge.config import Config
    from orgforge.simulate.jobs import Job
    from orgforge.world.store import World


class SalesforceDriver:
    name = "salesforce"
    sync_target = None  # what a job creates is its own (sim_objects), not a load's sync rows

    def __init__(self, config: Config, environ: dict[str, str] | None, limiter: Clock) -> None:
        self.config = config
        self.environ = environ
        self.limiter = limiter
        self._client: Any = None
        self._facts: dict[str, Any] | None = None
        self._world: World | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from orgforge.targets.salesforce.ops import connect

            self._client = connect(self.config, env=self.environ, clock=self.limiter)
        return self._client

    def personas(self, job: Job, world: World) -> list[Persona]:
        self._world = world
        return select(
            list(world_personas(world, job.schedule).values()), job.personas, "the world's Users"
        )

    def facts(self, job: Job) -> dict[str, Any]:
        if self._facts is None:
            assert self._world is not None, "personas() first: it names the world"
            self._facts = self._read(self._world)
        return self._facts

    def _read(self, world: World) -> dict[str, Any]:
        """The world's records that a load put into this org (ids from its sync rows)."""
        from orgforge.generate.pools import pools
        from orgforge.packs import load_packs
        from orgforge.targets.salesforce.plan import target_name

        packs = load_packs(self.config.generate.packs)
        by_industry = {getattr(p, "industry", None): pid for pid, p in packs.items()}
        target = target_name(self.client)
        with world.reading() as conn:
            ids = dict(
                conn.execute(
                    'SELECT "key", "remote_id" FROM "sync" WHERE "target" = :t AND "status" = :s '
                    'AND "remote_id" IS NOT NULL',
                    {"t": target, "s": "ok"},
                ).fetchall()
            )
        accounts: dict[str, dict[str, Any]] = {}
        for row in world.iter_dicts("Account"):
            accounts[row["key"]] = {
                "key": row["key"],
                "id": ids.get(row["key"]),
                "name": row["Name"],
                "pack": by_industry.get(row.get("Industry")),
                "contact": "the customer",
                "title": "",
            }
        for row in world.iter_dicts("Contact"):
            account = accounts.get(row.get("AccountId") or "")
            if account is not None and account["contact"] == "the customer":
                account["contact"] = f"{row.get('FirstName') or ''} {row['LastName']}".strip()
                account["title"] = row.get("Title") or ""
        opportunities = []
        for row in world.iter_dicts("Opportunity"):
            account = accounts.get(row.get("AccountId") or "", {})
            if row["key"] in ids and not str(row["StageName"]).startswith("Closed"):
                opportunities.append(
                    {
                        "key": row["key"],
                        "id": ids[row["key"]],
                        "name": row["Name"],
                        "stage": row["StageName"],
                        "account": account.get("name", ""),
                        "contact": account.get("contact", "the customer"),
                        "pack": account.get("pack"),
                    }
                )
        cases = []
        for row in world.iter_dicts("Case"):
            account = accounts.get(row.get("AccountId") or "", {})
            if row["key"] in ids and row.get("Status") != "Closed":
                cases.append(
                    {
                        "key": row["key"],
                        "id": ids[row["key"]],
                        "status": row.get("Status") or "New",
                        "subject": row.get("Subject") or "",
                        "contact": account.get("contact"),
                        "pack": account.get("pack"),
                    }
                )
        names = pools()
        return {
            "packs": sorted(packs),
            "product": "our platform",
            "names": (names.first_names[:400], names.last_names[:400]),
            "accounts": [a for a in accounts.values() if a["id"]],
            "opportunities": opportunities,
            "cases": cases,
        }

    def perform(
        self, calls: list[dict[str, Any]], objects: JobObjects, persona: Persona
    ) -> dict[str, str]:
        created: dict[str, str] = {}

        remote_id = remote_id_of(objects, created, "Salesforce id")

        def resolve(value: Any) -> Any:
            if isinstance(value, dict) and "$ref" in value:
                return remote_id(value["$ref"])
            return value

        for call in calls:
            fields = {name: resolve(value) for name, value in call["fields"].items()}
            record = {"attributes": {"type": call["sobject"]}, **fields}
            try:
                if call["op"] == "create":
                    (result,) = self.client.create_many([record])
                else:
                    record["id"] = resolve(call["id"])
                    (result,) = self.client.update_many([record])
            except ActionError:
                raise
            except Exception as exc:  # the client's TargetError after its own retries
                raise ActionError(type(exc).__name__, getattr(exc, "message", str(exc))) from None
            if not result.get("success"):
                from orgforge.targets.salesforce.client import parse_errors

                error = parse_errors(result.get("errors") or [])
                raise ActionError(error.code, error.message)
            if call["op"] == "create":
                created[call["key"]] = result["id"]
        return created

    def figures(self) -> dict[str, Any]:
        if self._client is None:
            return {}
        return {"retries": self._client.retries, "faults": dict(self._client.faults)}
