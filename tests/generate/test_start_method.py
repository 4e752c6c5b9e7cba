"""Workers don't depend on ``fork``: a platform without it (Windows) generates the same bytes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.worlds import AS_OF

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys

    if __name__ == "__main__":
        # What Windows offers: spawn only; asking for fork raises ValueError there.
        real_get_context = multiprocessing.get_context

        def no_fork(method=None):
            if method == "fork":
                raise ValueError("cannot find context for 'fork'")
            return real_get_context(method)

        multiprocessing.get_context = no_fork
        multiprocessing.set_start_method("spawn", force=True)
        import orgforge

        world, out, workers, as_of = sys.argv[1:5]
        result = orgforge.generate(
            world=world, out=out, accounts=35, workers=int(workers), seed=42, as_of=as_of,
            runs_dir=world + ".runs",
        )
        print(result.records)
    """
)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_spawned_workers_write_the_same_export_as_one_process(tmp_path):
    script = tmp_path / "spawned.py"
    script.write_text(SCRIPT, encoding="utf-8")
    digests = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        world = tmp_path / f"w{workers}.db"
        done = subprocess.run(
            [sys.executable, str(script), str(world), str(out), str(workers), AS_OF.isoformat()],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert int(done.stdout.split()[-1]) > 35
        digests.append(_digest(out))
    assert digests[0] == digests[1] and digests[0]
