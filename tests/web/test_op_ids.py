"""Operation ids: handed out by compare-and-set on a counter in the world, so no two threads,
no two `orgforge serve` processes on one world, and no reset ever give out the same op-N."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig
from orgforge.sandbox.salesforce import run_in_thread as salesforce_sandbox
from orgforge.web.ops import claim_op_id
from orgforge.world.store import World
from tests.cli.conftest import clean_env, orgforge_bin

TOKEN = "two-servers-one-world-token"


def test_threads_with_their_own_connections_never_share_an_id(tmp_path):
    world_file = tmp_path / "w.db"
    World(world_file).close()
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        with World(world_file) as world:  # its own connection, like another process's
            for _ in range(n):
                op_id = claim_op_id(world)
                with lock:
                    claimed.append(op_id)

    threads = [threading.Thread(target=claim, args=(25,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed, key=lambda i: int(i[3:])) == [f"op-{n}" for n in range(1, 101)]


class _Interleaved(World):
    """A world handle whose first counter read is followed, before its write, by another
    server's claim: the compare-and-set must notice and read again."""

    def __init__(self, path: Path, other: World) -> None:
        super().__init__(path)
        self.other, self.interfered = other, False

    @contextmanager
    def reading(self) -> Iterator:
        with super().reading() as conn:
            yield conn
        if not self.interfered:
            self.interfered = True
            self.other_got = claim_op_id(self.other)


def test_a_claim_that_lost_the_race_reads_again_instead_of_reusing_the_number(tmp_path):
    world_file = tmp_path / "w.db"
    with World(world_file) as other:
        claim_op_id(other)  # the counter exists: op-1
        slow = _Interleaved(world_file, other)
        try:
            mine = claim_op_id(slow)
        finally:
            slow.close()
    assert slow.other_got == "op-2" and mine == "op-3"


def test_the_counter_starts_after_a_worlds_existing_ids_and_survives_a_reset(tmp_path):
    world_file = tmp_path / "w.db"
    World(world_file).close()
    with sqlite3.connect(world_file) as conn:  # a world numbered by counting rows, before
        for n in (1, 2, 3):
            conn.execute(
                'INSERT INTO "web_ops" ("id", "kind", "params", "state", "progress", '
                '"created_at") VALUES (?, ?, ?, ?, ?, ?)',
                (f"op-{n}", "generate", "{}", "ok", "{}", "2026-12-01T00:00:00Z"),
            )
    with World(world_file) as world:
        assert claim_op_id(world) == "op-4"
        world.reset()  # removes every operation row; counting rows would start at op-1 again
        assert claim_op_id(world) == "op-5"


# -- two real servers ---------------------------------------------------------------------


def _serve(tmp_path: Path, world: Path, name: str) -> tuple[subprocess.Popen, str]:
    folder = tmp_path / name
    folder.mkdir()
    process = subprocess.Popen(
        [orgforge_bin(), "serve", "--port", "0", "--world", str(world), "--no-simulate"],
        cwd=folder,
        env=clean_env(ORGFORGE_WEB_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    found = re.search(r"open\s+(http://127\.0\.0\.1:\d+)/", "".join(banner))
    assert found, "".join(banner)
    return process, found[1]


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[list[str], Path]]:
    world = tmp_path / "shared.db"
    World(world).close()
    started = []
    try:
        for name in ("a", "b"):
            started.append(_serve(tmp_path, world, name))
        yield [url for _, url in started], world
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=30)


def test_two_servers_on_one_world_never_hand_out_the_same_operation_id(two_servers, tmp_path):
    urls, world = two_servers
    per_server = 8
    answers: list[dict] = []
    lock = threading.Lock()
    org = SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA)
    with salesforce_sandbox(org) as sf:
        body = {
            "kind": "validate",
            "params": {"target": "salesforce", "instance_url": sf.instance_url, "auth": "token"},
            "secrets": {"access_token": sf.token},
        }
        barrier = threading.Barrier(2 * per_server)

        def post(url: str) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                barrier.wait()  # every request at once, half to each server
                answer = client.post("/api/ops", json=body)
            with lock:
                answers.append({"url": url, "status": answer.status_code, **answer.json()})

        threads = [
            threading.Thread(target=post, args=(url,)) for url in urls for _ in range(per_server)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = [a for a in answers if a["status"] != 202]
        assert not refused and len(answers) == 2 * per_server, refused
        ids = [a["id"] for a in answers]
        assert len(set(ids)) == len(ids), sorted((a["id"], a["url"]) for a in answers)
        assert sorted(ids, key=lambda i: int(i[3:])) == [f"op-{n}" for n in range(1, 17)]
        assert {a["url"] for a in answers} == set(urls)
        # each server finishes its own; the world holds one row per id, each from one server
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for answer in answers:
            url, op_id = answer["url"], answer["id"]
            with (
                httpx.Client(base_url=url, headers=headers, timeout=60) as client,
                client.stream("GET", f"/api/ops/{op_id}/events") as response,
            ):
                for line in response.iter_lines():
                    if line.startswith("event: end"):
                        break
    with sqlite3.connect(world) as conn:
        rows = conn.execute('SELECT "id", "state" FROM "web_ops"').fetchall()
    assert sorted(rows) == sorted((i, "ok") for i in ids)
