"""Every code block of the READMEs, run as a reader pastes it, so the docs cannot drift.

Each fenced block says what it is in its info string:

- ``sh``: commands, run in order with ``bash -euo pipefail`` from the root of a copy of
  the repository, the venv active (its ``bin`` first on PATH, as after
  ``source .venv/bin/activate``). ``aws`` commands reach an in-process stand-in for the
  Lambda API (``AWS_ENDPOINT_URL``): the real AWS CLI parses them and reads their files,
  and each must arrive as one request.
- ``python``: run with the venv's Python. ``python file=PATH`` (and ``yaml file=PATH``)
  is a file the reader saves: written, compiled, then used by later blocks.
- ``yaml``: a template, checked by cfn-lint.
- ``text``: a layout, a protocol, a picture — nothing to run.

A block right after ``<!-- not run: REASON -->`` is skipped, and the reason is shown.
"""

from __future__ import annotations

import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCS = ["README.md", "examples/cobol/README.md"]
KINDS = {"sh", "python", "yaml", "text", "json"}
FENCE = re.compile(r"^( *)```(.*)$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.+?)\s*-->$")


class Block(NamedTuple):
    doc: str
    line: int
    kind: str
    options: Dict[str, str]
    text: str
    not_run: Optional[str]

    def where(self) -> str:
        return "%s:%d (```%s)" % (self.doc, self.line, self.kind)


def blocks(doc: str) -> List[Block]:
    """The fenced blocks of ``doc``, in order."""
    found: List[Block] = []
    lines = (REPO / doc).read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, info = opening.group(1), opening.group(2).split()
        previous = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        skip = NOT_RUN.match(previous)
        body: List[str] = []
        index += 1
        while not lines[index].startswith(indent + "```"):
            body.append(lines[index][len(indent):] if lines[index].startswith(indent) else lines[index])
            index += 1
        options = dict(word.split("=", 1) for word in info[1:] if "=" in word)
        found.append(Block(doc, index - len(body), info[0] if info else "", options, "\n".join(body) + "\n",
                           skip.group(1) if skip else None))
        index += 1
    return found


def aws_commands(text: str) -> int:
    """How many ``aws`` commands a shell block runs (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", text)
    return sum(len(re.findall(r"(?:^|\$\()\s*aws\s", line)) for line in joined.splitlines())


class FakeLambdaApi:
    """Stands in for AWS: answers every request 200 ``{}`` and records it. The AWS CLI
    still parses each command, reads its fileb:// files and signs the request."""

    def __init__(self) -> None:
        self.requests: List[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                api.requests.append("%s %s (%d bytes)" % (self.command, self.path, len(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.server.server_address[1]


@pytest.fixture(scope="module")
def fake_aws() -> Iterator[FakeLambdaApi]:
    api = FakeLambdaApi()
    yield api
    api.server.shutdown()


def copy_of_repository(target: Path) -> Path:
    """The repository's files as a clone has them, with this checkout's .venv and .tools."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    names = [n for n in listed.stdout.decode().split("\0") if n] if listed.returncode == 0 else []
    if names:
        for name in names:
            if (REPO / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, target / name, follow_symlinks=False)
    else:  # not a git checkout: everything but what set-up and builds make
        shutil.copytree(REPO, target, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".venv", ".tools", "build", ".git", "__pycache__"))
    for made in (".venv", ".tools"):
        os.symlink(REPO / made, target / made)
    return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_repository(tmp_path_factory.mktemp("docs"))


def reader_env(workspace: Path, fake_aws: FakeLambdaApi) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(PATH=os.pathsep.join([str(workspace / ".venv" / "bin"), str(REPO / ".tools" / "sam" / "bin"),
                                     env.get("PATH", "/usr/bin:/bin")]),
               VIRTUAL_ENV=str(workspace / ".venv"), AWS_ENDPOINT_URL=fake_aws.url, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
               AWS_SECRET_ACCESS_KEY="example", AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="",
               SAM_CLI_TELEMETRY="0", PYTHONDONTWRITEBYTECODE="1",
               # What the docs ask a reader to set: their account, and an execution role.
               ACCOUNT_ID="123456789012", ROLE_NAME="payroll-role", S3_BUCKET="example-artifacts")
    env.pop("PYTHONPATH", None)
    return env


def run_block(block: Block, workspace: Path, env: Dict[str, str], fake_aws: FakeLambdaApi) -> None:
    if block.kind == "sh":
        before = len(fake_aws.requests)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=workspace, env=env,
                                capture_output=True, timeout=900)
        assert result.returncode == 0, "%s failed (exit %d):\n%s\n--- stdout\n%s\n--- stderr\n%s" % (
            block.where(), result.returncode, block.text, result.stdout.decode(errors="replace")[-3000:],
            result.stderr.decode(errors="replace")[-3000:])
        sent = fake_aws.requests[before:]
        assert len(sent) == aws_commands(block.text), "%s: aws commands sent %s" % (block.where(), sent)
    elif block.kind in ("python", "yaml") and "file" in block.options:
        path = workspace / block.options["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text)
        if block.kind == "python":
            py_compile.compile(str(path), cfile=str(workspace / "build" / "compiled.pyc"), doraise=True)
        else:
            lint(path, block)
    elif block.kind == "python":
        result = subprocess.run([str(workspace / ".venv" / "bin" / "python3"), "-c", block.text], cwd=workspace,
                                env=env, capture_output=True, timeout=300)
        assert result.returncode == 0, "%s failed:\n%s\n%s" % (block.where(), block.text,
                                                               result.stderr.decode(errors="replace")[-3000:])
    elif block.kind == "yaml":
        path = workspace / "build" / ("snippet-%d.yaml" % block.line)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text)
        lint(path, block)


def lint(path: Path, block: Block) -> None:
    result = subprocess.run([str(BIN / "cfn-lint"), "--format", "parseable", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, "%s: cfn-lint:\n%s%s" % (block.where(), result.stdout, result.stderr)


def test_every_block_says_what_it_is():
    """A block without a kind would be neither run nor knowingly left out."""
    unmarked = [b.where() for doc in DOCS for b in blocks(doc) if b.kind not in KINDS]
    assert unmarked == []


def test_the_block_reader_sees_what_the_docs_hold():
    """The parser finds the blocks a reader sees (kinds, files, skips), so a test that runs
    them cannot pass by finding none."""
    readme = blocks("README.md")
    kinds = {b.kind for b in readme}
    assert {"sh", "python", "text"} <= kinds
    assert any(b.options.get("file") == "code/app.py" for b in readme)
    assert any(b.not_run and "--serve" in b.text for b in readme)
    assert aws_commands("aws lambda a \\\n  --x 1\n  aws lambda b\necho aws\nx=$(aws s3 ls)\n") == 3


@pytest.mark.parametrize("doc", DOCS)
def test_the_blocks_run_as_written(doc: str, workspace: Path, fake_aws: FakeLambdaApi, capsys):
    env = reader_env(workspace, fake_aws)
    ran, skipped = 0, []
    for block in blocks(doc):
        if block.kind in ("text", "json"):
            if block.kind == "json":
                json.loads(block.text)
            continue
        if block.not_run:
            skipped.append("%s: %s" % (block.where(), block.not_run))
            continue
        run_block(block, workspace, env, fake_aws)
        ran += 1
    assert ran > 0
    with capsys.disabled():
        for line in skipped:
            print("\n  not run: %s" % line, end="")
