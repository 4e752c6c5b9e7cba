"""The docs are executable: every command example in README.md and docs/*.md runs here.

Examples live in ```console blocks (``$ command`` lines, each followed by the output it shows)
and ```sh / ```bash blocks (commands only). Each doc runs top to bottom in one scratch
directory, the way a reader follows it (a world generated early is used later), every command
in a subprocess of the installed `orgforge` entry point. Each command must exit 0, unless the
doc shows its exit code with ``$ echo $?``; the output a console block shows must appear in
order, with timings, run ids, dates and Salesforce ids normalised. A ``…`` line stands for
lines left out, a ``…`` inside a line for text left out (or cut by a narrow table).

What the docs point at is provided for real, never skipped:

* ``orgforge sandbox salesforce … &`` and ``orgforge sandbox asana … &`` start that sandbox (on
  a free port instead of the one the doc names; that URL is rewritten in the commands,
  variables and output that follow; the Asana sandbox's ``--env-file`` has the real one);
  ``orgforge serve … &`` starts the web app the same way;
* the LLM examples run against a local OpenAI-compatible server (``FakeLLM``) through the
  official SDK: ``OPENAI_BASE_URL`` points the default provider at it, and the Ollama URL of
  the docs is rewritten to it;
* ``make`` lines are checked with ``make -n`` (the target exists and its recipe expands;
  running ``make test`` inside the tests would recurse), ``python -m pytest …`` lines with
  ``--collect-only`` (the folder, file or selection exists).

Anything else in an executable block fails the test with what the runner accepts.
"""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.cli.conftest import clean_env, orgforge_bin

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
EXECUTABLE = {"console", "sh", "bash", "shell"}
SANDBOX_DEFAULT_PORTS = {"salesforce": "8642", "asana": "8643", "serve": "8700"}


@dataclass
class Step:
    line: int  # where the command starts in the doc
    command: str
    expected: list[str] = field(default_factory=list)
    shows_output: bool = False  # a console step with output lines after it
    heredoc: str | None = None


@dataclass
class Block:
    lang: str
    line: int
    lines: list[str]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, with its info string and first line number."""
    found: list[Block] = []
    current: Block | None = None
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text.startswith("```"):
            if current is None:
                current = Block(text[3:].strip().split(" ")[0], number + 1, [])
            else:
                found.append(current)
                current = None
        elif current is not None:
            current.lines.append(text)
    assert current is None, f"{path.name}: a code block is never closed"
    return found


def _join_continuations(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """(line number, logical line): lines ending in a backslash join the next."""
    pending, first = "", 0
    for offset, text in enumerate(lines):
        if not pending:
            first = start + offset
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        yield first, pending + text
        pending = ""
    if pending:
        yield first, pending


def steps(block: Block) -> list[Step]:
    out: list[Step] = []
    if block.lang == "console":
        lines = iter(_join_continuations(block.lines, block.line))
        for number, text in lines:
            if text.startswith("$ "):
                out.append(Step(number, text[2:].strip()))
            elif out:
                if text.strip():
                    out[-1].expected.append(text)
                    out[-1].shows_output = True
            else:
                raise AssertionError(f"line {number}: output before the first `$ ` command")
        return out
    heredoc_end: str | None = None
    for number, text in _join_continuations(block.lines, block.line):
        if heredoc_end is not None:
            if text.strip() == heredoc_end:
                heredoc_end = None
            else:
                out[-1].heredoc = (out[-1].heredoc or "") + text + "\n"
            continue
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        out.append(Step(number, text.strip()))
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", text)
        if marker:
            heredoc_end = marker.group(1)
            out[-1].heredoc = ""
    return out


# -- comparing output --------------------------------------------------------------------------

_NORMALISE = [
    (re.compile(r"\d{8}T\d{6}Z-[\w-]+?-[0-9a-f]{6}"), "<run>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2})?"), "<date>"),
    (re.compile(r"\(\s*[\d,]+/s\)"), "(<rate>)"),
    (re.compile(r"\b\d[\d,]*(?:\.\d+)?\s?(?:ms|s)\b"), "<time>"),
    (re.compile(r"\b\d(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{14}(?:[0-9A-Za-z]{3})?\b"), "<id>"),
]
_DECORATION = re.compile(r"[\s━─╇┿╋┼═╪┃│]+")


def normalise(line: str) -> str | None:
    """The comparable form of an output line; None for a line that is only table rules."""
    if _DECORATION.fullmatch(line) or not line.strip():
        return None
    for pattern, token in _NORMALISE:
        line = pattern.sub(token, line)
    return " ".join(line.split())


def _pattern(expected: str) -> re.Pattern:
    parts = [re.escape(part) for part in expected.split("…")]
    return re.compile(r".*?".join(parts))


def shown_output_matches(expected: list[str], actual: str) -> str | None:
    """None if every expected line appears in order in ``actual``; else the first one missing."""
    lines = [n for n in (normalise(x) for x in actual.splitlines()) if n is not None]
    position = 0
    for raw in expected:
        want = normalise(raw)
        if want is None or want == "…":
            continue
        pattern = _pattern(want)
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return raw
        position += 1
    return None


# -- running a doc -----------------------------------------------------------------------------


class DocRunner:
    """Runs one doc's steps in order in one directory, with one environment."""

    def __init__(self, doc: Path, cwd: Path, llm_url: str) -> None:
        self.doc, self.cwd = doc, cwd
        self.env = clean_env(OPENAI_API_KEY="sk-docs-test", OPENAI_BASE_URL=llm_url + "/v1")
        self.urls = {"http://localhost:11434/v1": llm_url + "/v1"}
        self.servers: list[subprocess.Popen] = []
        self.stale: list[str] = []
        self.seconds: list[tuple[float, str]] = []  # per step, printed with -s: the slow ones

    def where(self, step: Step) -> str:
        return f"{self.doc.name}:{step.line}: `{step.command}`"

    def rewrite(self, text: str) -> str:
        for doc_url, real in self.urls.items():
            text = text.replace(doc_url, real)
        return text

    def as_in_the_doc(self, text: str) -> str:
        """Output with the real URLs put back to the ones the doc shows."""
        for doc_url, real in self.urls.items():
            if doc_url.startswith("http://127.0.0.1") or doc_url.startswith("https://127"):
                text = text.replace(real, doc_url)
        return text

    def expand(self, text: str) -> str:
        return re.sub(
            r"\$\{?(\w+)\}?", lambda m: self.env.get(m.group(1), m.group(0)), self.rewrite(text)
        )

    def run(self, all_steps: list[Step]) -> None:
        for index, step in enumerate(all_steps):
            following = all_steps[index + 1] if index + 1 < len(all_steps) else None
            expected_code = 0
            if following is not None and following.command == "echo $?":
                expected_code = int(following.expected[0])
            self.step(step, expected_code)

    def step(self, step: Step, expected_code: int) -> None:
        started = time.monotonic()
        try:
            self._step(step, expected_code)
        finally:
            self.seconds.append((time.monotonic() - started, self.where(step)))

    def _step(self, step: Step, expected_code: int) -> None:
        words = shlex.split(self.rewrite(step.command), comments=True)
        assert words, self.where(step)
        extra_env: dict[str, str] = {}
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            name, value = words.pop(0).split("=", 1)
            extra_env[name] = self.expand(value)
        program = words[0]
        if program == "echo" and words[1:] == ["$?"]:
            return  # checked with the command before it
        if program == "export":
            for assignment in words[1:]:
                name, value = assignment.split("=", 1)
                self.env[name] = self.expand(value)
            return
        if program == "cat" and step.heredoc is not None and ">" in words:
            (self.cwd / words[words.index(">") + 1]).write_text(step.heredoc)
            return
        if program == "echo" and ">>" in words:
            target = self.cwd / words[words.index(">>") + 1]
            with target.open("a") as handle:
                handle.write(" ".join(words[1 : words.index(">>")]) + "\n")
            return
        if program == "mkdir":
            for name in (w for w in words[1:] if not w.startswith("-")):
                (self.cwd / name).mkdir(parents=True, exist_ok=True)
            return
        if program == "make":
            self.check_make(step, words)
            return
        if program.endswith("python") and words[1:3] == ["-m", "pytest"]:
            self.check_pytest(step, words[3:])
            return
        if program == "curl":
            self.call(step, [shutil.which("curl") or "curl", *map(self.expand, words[1:])], 0)
            return
        if program == "orgforge":
            self.orgforge(step, [self.expand(w) for w in words[1:]], extra_env, expected_code)
            return
        pytest.fail(
            f"{self.where(step)}: the doc runner can't run this. Executable blocks hold orgforge, "
            "export, echo $?, cat > FILE <<EOF, echo … >> FILE, mkdir, make, python -m pytest "
            "and curl lines; "
            "move anything else into prose or a ```text block."
        )

    def check_make(self, step: Step, words: list[str]) -> None:
        done = subprocess.run(
            ["make", "-n", "-C", str(ROOT), *words[1:]], capture_output=True, text=True
        )
        assert done.returncode == 0, f"{self.where(step)}: make -n: {done.stderr}"

    def check_pytest(self, step: Step, args: list[str]) -> None:
        """A test command is collected, not run (the suite doesn't run itself)."""
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
            + [a for a in args if a not in ("-x",)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        # exit 0: something collected (5 would be nothing, 4 a bad path or option)
        assert done.returncode == 0, (
            f"{self.where(step)}: pytest --collect-only: {done.stdout[-500:]}{done.stderr[-500:]}"
        )

    def orgforge(
        self, step: Step, args: list[str], extra_env: dict[str, str], expected_code: int
    ) -> None:
        background = bool(args) and args[-1] == "&"
        if background:
            self.serve(step, args[:-1])
            return
        redirect = None
        if ">" in args:
            redirect = self.cwd / args[args.index(">") + 1]
            args = args[: args.index(">")]
        done = self.call(step, [orgforge_bin(), *args], expected_code, extra_env)
        if redirect is not None:
            redirect.write_text(done.stdout)
        if step.shows_output:
            printed = self.as_in_the_doc(done.stdout + "\n" + done.stderr)
            missing = shown_output_matches(step.expected, printed)
            if missing is not None:  # noted, and the doc goes on: one run shows every stale one
                self.stale.append(
                    f"{self.where(step)}: the doc shows a line the command doesn't print:\n"
                    f"  {missing}\n--- it printed:\n{done.stdout}{done.stderr}"
                )

    def call(
        self,
        step: Step,
        argv: list[str],
        expected_code: int,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            argv,
            cwd=self.cwd,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=180,
            input="",
        )
        assert done.returncode == expected_code, (
            f"{self.where(step)}: exit {done.returncode}, the doc expects {expected_code}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr, f"{self.where(step)}:\n{done.stderr}"
        return done

    def serve(self, step: Step, args: list[str]) -> None:
        """Start a server the doc puts in the background; map the doc's URL to the real one."""
        known = args[:2] in (["sandbox", "salesforce"], ["sandbox", "asana"]) or args[0] == "serve"
        assert known, f"{self.where(step)}: not a known server"
        port = SANDBOX_DEFAULT_PORTS[args[0] if args[0] == "serve" else args[1]]
        if "--port" in args:
            at = args.index("--port") + 1
            port, args = args[at], [*args[:at], "0", *args[at + 1 :]]
        else:
            args = [*args, "--port", "0"]
        proc = subprocess.Popen(
            [orgforge_bin(), *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.servers.append(proc)
        banner, deadline = "", time.monotonic() + 60
        while "Press Ctrl+C" not in banner and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner += line
        found = re.search(r"(?:instance URL|API base|open)\s+(\S+)", banner)
        assert found, f"{self.where(step)}: the server didn't start:\n{banner}"
        # the Asana sandbox shows its API base, orgforge serve the page to open
        real = found.group(1).removesuffix("/api/1.0").removesuffix("/")
        scheme = real.split("://")[0]
        self.urls[f"{scheme}://127.0.0.1:{port}"] = real
        self.urls[f"{scheme}://localhost:{port}"] = real

    def close(self) -> None:
        for proc in self.servers:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def doc_steps(doc: Path) -> list[Step]:
    return [step for block in blocks(doc) if block.lang in EXECUTABLE for step in steps(block)]


# Docs merged with examples that can't run as written: doc name → why. Strict: fixing the doc
# fails the xfail, and the entry goes. Never add one to skip a doc: fix the doc or the code.
KNOWN_BROKEN: dict[str, str] = {}


def _docs_to_run() -> list:
    return [
        pytest.param(
            d,
            id=d.name,
            marks=[pytest.mark.xfail(reason=KNOWN_BROKEN[d.name], strict=True)]
            if d.name in KNOWN_BROKEN
            else [],
        )
        for d in DOCS
        if d.exists()
    ]


@pytest.mark.parametrize("doc", _docs_to_run())
def test_every_example_in_the_doc_runs(doc: Path, tmp_path, llm):
    all_steps = doc_steps(doc)
    runner = DocRunner(doc, tmp_path, llm.url)
    try:
        runner.run(all_steps)
    finally:
        runner.close()
        for seconds, where in sorted(runner.seconds, reverse=True)[:5]:
            print(f"{seconds:6.2f}s {where}")
    assert not runner.stale, "\n\n".join(runner.stale)


@pytest.mark.parametrize("doc", [d for d in DOCS if d.exists()], ids=lambda d: d.name)
def test_no_command_example_hides_in_a_block_that_isnt_run(doc: Path):
    for block in blocks(doc):
        if block.lang in EXECUTABLE:
            continue
        for offset, text in enumerate(block.lines):
            assert not re.match(r"\s*(\$ )?(orgforge|make) ", text), (
                f"{doc.name}:{block.line + offset}: a command example in a ```{block.lang or ''} "
                "block is never run: make it a ```console (with `$ `) or ```sh block"
            )


def test_the_runner_compares_output_the_way_the_docs_need():
    shown = [
        " object ┃ records",
        "━━━━━━━━╇━━━━━━━━━",
        " Account │ 100",
        " …",
        "2,412 records in 0.41s (5,869/s), seed 42, as of 2026-11-23, text: offline",
        "run log: runs/20261123T160855Z-generate-1b502e/",
        " 0002/1 │ America/Los_Ange… │ 5",
    ]
    printed = (
        "World w.db\n object   ┃ records\n Account  │     100\n Contact │ 400\n"
        "2,412 records in 1.07s (2,254/s), seed 42, as of 2026-12-03, text: offline\n"
        "run log: runs/20261203T101010Z-generate-abcdef/\n"
        " 0002/1 │ America/Los_Angeles │ 5\n"
    )
    assert shown_output_matches(shown, printed) is None
    assert shown_output_matches([" Account │ 101"], printed) == " Account │ 101"
    assert shown_output_matches(["2,413 records in 0.41s"], printed) is not None
    # order matters: a line shown after another must be printed after it
    assert shown_output_matches([" Contact │ 400", " Account │ 100"], printed) is not None
