"""How long a local Salesforce sandbox takes to start and stop in a thread (tests start many).

Prints the figure; it asserts nothing (speed is the machine's, see DESIGN.md: no timed tests).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from orgforge.sandbox.salesforce import run_in_thread

ROUNDS = 5


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        for i in range(ROUNDS):
            with run_in_thread(db_path=Path(root) / f"q{i}.db") as sb:
                assert httpx.get(f"{sb.instance_url}/_sandbox/health").status_code == 200
        seconds = (time.perf_counter() - started) / ROUNDS
    print(f"run_in_thread start + health check + stop: {seconds * 1000:.0f} ms per sandbox")
    print("target: well under 1 s (tests start one per test)")


if __name__ == "__main__":
    main()
