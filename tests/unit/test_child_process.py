"""child_process: spawning a program, feeding and draining its pipes, its deadline,
its output limit, and the sweep that leaves nothing of it behind."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

from children import alive
from bootstrap_sdk.adapter import child_process
from bootstrap_sdk.adapter.child_process import (
    LineSplitter,
    SpawnError,
    describe_status,
    run,
    spawn_piped,
    status_error,
)

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def _script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def _run(argv: List[str], stdin: bytes = b"", seconds: float = 5.0, limit: int = 1 << 20,
         cwd: Optional[str] = None, env: Dict[str, str] = ENV, grace: float = 0.2,
         keep: Sequence[int] = ()) -> Tuple[child_process.Outcome, List[str]]:
    """run() with a generous deadline; the stderr lines it handed on, in order."""
    lines: List[str] = []
    outcome = run(argv, env, cwd, stdin, time.monotonic() + seconds, limit, lines.append, grace, keep)
    return outcome, lines


def _wait_status(argv: List[str], cwd: Path) -> int:
    """The raw wait status of a real program, reaped here without the module under test."""
    pid = _spawn_plain(argv, cwd)
    _, status = os.waitpid(pid, 0)
    return status


def _spawn_plain(argv: List[str], cwd: Path) -> int:
    previous = os.getcwd()
    os.chdir(cwd)  # a core file, should the system write one, lands in tmp_path
    try:
        return os.spawnve(os.P_NOWAIT, argv[0], argv, ENV)
    finally:
        os.chdir(previous)


# -- run: stdout, stdin, status ----------------------------------------------------------

def test_run_returns_stdout_and_exit_status(tmp_path):
    prog = _script(tmp_path, "p.sh", 'printf "out:%s" "$1"\nexit 3\n')
    outcome, _ = _run([prog, "word"])
    assert outcome.stdout == b"out:word"
    assert os.WIFEXITED(outcome.status) and os.WEXITSTATUS(outcome.status) == 3
    assert not outcome.timed_out and not outcome.overflow


def test_run_passes_exactly_the_given_environment_and_directory(tmp_path):
    prog = _script(tmp_path, "p.sh", 'pwd\n/usr/bin/env\n')
    workdir = tmp_path / "wd"
    workdir.mkdir()
    before = os.getcwd()
    outcome, _ = _run([prog], cwd=str(workdir), env={"ONLY": "this one"})
    lines = outcome.stdout.decode().splitlines()
    assert lines[0] == os.path.realpath(str(workdir))
    assert sorted(line for line in lines[1:] if not line.startswith("PWD=")) == ["ONLY=this one"]
    assert os.getcwd() == before, "the caller's directory is restored"


def test_a_megabyte_of_stdin_goes_through_cat_unchanged():
    data = os.urandom(1 << 20)  # far more than a pipe holds, in both directions at once
    outcome, _ = _run(["/bin/cat"], stdin=data, limit=2 << 20)
    assert outcome.status == 0 and not outcome.timed_out
    assert outcome.stdout == data


def test_empty_stdin_is_closed_at_once():
    outcome, _ = _run(["/bin/cat"], stdin=b"")
    assert not outcome.timed_out, "cat saw EOF instead of waiting for the deadline"
    assert outcome.status == 0 and outcome.stdout == b""


@pytest.mark.parametrize("argv, expected", [
    (["/bin/true"], b""),
    (["/usr/bin/head", "-c", "10"], None),
    (["/bin/sh", "-c", "exec 0<&-; echo closed"], b"closed\n"),
])
def test_a_program_that_does_not_read_all_of_stdin_is_not_an_error(argv, expected):
    data = os.urandom(1 << 20)
    outcome, _ = _run(argv, stdin=data)
    assert outcome.status == 0 and not outcome.timed_out
    assert outcome.stdout == (data[:10] if expected is None else expected)


# -- run: limits -------------------------------------------------------------------------

def test_stdout_over_the_limit_sets_overflow_and_kills_the_program(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", 'echo $$ > "%s"\nexec /usr/bin/yes\n' % pidfile)
    outcome, _ = _run([prog], limit=10000)
    assert outcome.overflow
    assert outcome.stdout == b"", "nothing of an oversized output is kept"
    assert status_error(outcome.status)[0] == "Executable.SIGKILL"
    assert not alive(_read_pid(pidfile))


@pytest.mark.parametrize("extra, overflow", [(0, False), (1, True)])
def test_stdout_limit_boundary(extra, overflow):
    size = 5000
    outcome, _ = _run(["/usr/bin/head", "-c", str(size + extra), "/dev/zero"], limit=size)
    assert outcome.overflow is overflow
    assert outcome.stdout == (b"" if overflow else b"\0" * size)


def test_a_program_that_outlives_kill_at_is_timed_out(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", 'echo $$ > "%s"\necho partial\nexec sleep 30\n' % pidfile)
    outcome, _ = _run([prog], seconds=0.5)
    assert outcome.timed_out and not outcome.overflow
    assert outcome.stdout == b"partial\n", "what it wrote before the deadline is kept"
    assert not alive(_read_pid(pidfile))


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", 'trap "" TERM\necho $$ > "%s"\nwhile :; do sleep 1; done\n' % pidfile)
    outcome, _ = _run([prog], seconds=0.5, grace=0.1)
    assert outcome.timed_out
    assert not alive(_read_pid(pidfile))


def _has_pidfd() -> bool:
    fd = child_process.open_pidfd(os.getpid())
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.mark.parametrize("body, expected", [
    ("exec sleep 30\n", "Executable.SIGTERM"),
    ('trap "" TERM\nwhile :; do sleep 1; done\n', "Executable.SIGKILL"),
])
def test_a_timed_out_runs_status_is_the_signal_that_ended_it(tmp_path, body, expected):
    prog = _script(tmp_path, "p.sh", body)
    outcome, _ = _run([prog], seconds=0.5, grace=0.1)
    assert outcome.timed_out
    assert status_error(outcome.status)[0] == expected


# -- run: stderr -------------------------------------------------------------------------

def test_stderr_lines_reach_the_sink_and_the_tail_keeps_the_last_ones(tmp_path):
    count = child_process._STDERR_TAIL_LINES + 15
    prog = _script(tmp_path, "p.sh", 'i=0\nwhile [ $i -lt %d ]; do echo "err $i   " >&2; i=$((i+1)); done\n'
                   'printf "no newline at the end" >&2\n' % count)
    outcome, lines = _run([prog])
    expected = ["err %d" % i for i in range(count)] + ["no newline at the end"]
    assert lines == expected, "every line, in order, padding stripped, the last partial one too"
    assert outcome.stderr_tail.split("\n") == expected[-child_process._STDERR_TAIL_LINES:]


def test_the_stderr_tail_is_capped_in_characters(tmp_path):
    prog = _script(tmp_path, "p.sh", 'for i in 1 2 3 4 5 6 7 8; do head -c 1000 /dev/zero | tr "\\0" "$i" >&2; '
                   'echo >&2; done\n')
    outcome, lines = _run([prog])
    assert len(lines) == 8 and all(len(line) == 1000 for line in lines)
    full = "\n".join(lines)
    assert len(outcome.stderr_tail) == child_process._STDERR_TAIL_CHARS < len(full)
    assert outcome.stderr_tail == full[-child_process._STDERR_TAIL_CHARS:]


# -- run: nothing left behind ------------------------------------------------------------

def test_a_background_child_in_the_group_is_killed(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", 'sleep 30 >/dev/null 2>&1 &\necho $! > "%s"\n' % pidfile)
    outcome, _ = _run([prog])
    assert outcome.status == 0
    assert not alive(_read_pid(pidfile))


def test_a_child_that_escaped_with_setsid_is_swept(tmp_path):
    pidfile = tmp_path / "pid"
    # The escaped child writes its pid and its session id (field 6 of /proc/PID/stat).
    prog = _script(tmp_path, "p.sh",
                   "setsid /bin/sh -c 'echo $$ $(cut -d\" \" -f6 /proc/$$/stat) > \"%s.tmp\"; "
                   "mv \"%s.tmp\" \"%s\"; exec sleep 30' </dev/null >/dev/null 2>&1 &\n"
                   'while [ ! -s "%s" ]; do sleep 0.01; done\n' % (pidfile, pidfile, pidfile, pidfile))
    outcome, _ = _run([prog])
    assert outcome.status == 0 and not outcome.timed_out
    escaped, session = map(int, pidfile.read_text().split())
    assert session == escaped, "it led a session of its own, out of reach of the group kill"
    assert not alive(escaped), "the escaped child is gone when run() returns"


def test_an_escaped_child_holding_the_pipes_does_not_outlive_kill_at(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", "setsid /bin/sh -c 'echo $$ > \"%s\"; exec sleep 30' &\n"
                   'while [ ! -s "%s" ]; do sleep 0.01; done\necho done\n' % (pidfile, pidfile))
    result: Dict[str, object] = {}

    def target() -> None:
        result["outcome"] = _run([prog], seconds=0.5)[0]

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(5.0)  # ten times the deadline
    returned = not thread.is_alive()
    escaped = _read_pid(pidfile)
    escaped_alive = alive(escaped)
    if not returned:  # release run(): end the escaped child, which closes the pipes
        os.kill(escaped, signal.SIGKILL)
        thread.join(10.0)
    assert returned, "run() did not return within ten times its deadline"
    assert not escaped_alive


def test_keep_spares_the_given_children_and_sweeps_the_others(tmp_path):
    kept = subprocess.Popen(["/bin/sleep", "30"])
    other = subprocess.Popen(["/bin/sleep", "30"])
    try:
        outcome, _ = _run(["/bin/true"], keep=[kept.pid])
        assert outcome.status == 0
        assert alive(kept.pid) and kept.poll() is None
        assert not alive(other.pid)
    finally:
        kept.kill()
        kept.wait()
        if alive(other.pid):
            other.kill()
            other.wait()


# -- spawning ----------------------------------------------------------------------------

def _open_fds() -> List[str]:
    return sorted(os.listdir("/proc/self/fd"))


def test_spawn_error_for_a_missing_program_leaks_no_fd(tmp_path):
    before = _open_fds()
    with pytest.raises(SpawnError) as caught:
        spawn_piped([str(tmp_path / "missing")], ENV, None)
    assert str(tmp_path / "missing") in str(caught.value)
    assert _open_fds() == before


def test_spawn_error_for_a_program_that_is_not_executable(tmp_path):
    path = tmp_path / "plain.sh"
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o644)
    before = _open_fds()
    with pytest.raises(SpawnError) as caught:
        run([str(path)], ENV, None, b"", time.monotonic() + 5, 100, lambda line: None)
    assert "Permission denied" in str(caught.value)
    assert _open_fds() == before


def test_spawn_error_for_a_missing_working_directory_leaks_no_fd(tmp_path):
    before_cwd, before_fds = os.getcwd(), _open_fds()
    with pytest.raises(SpawnError):
        spawn_piped(["/bin/true"], ENV, str(tmp_path / "nowhere"))
    assert os.getcwd() == before_cwd
    assert _open_fds() == before_fds


def test_spawn_piped_gives_non_blocking_pipes_and_a_process_group_of_its_own():
    piped = spawn_piped(["/bin/cat"], ENV, None)
    try:
        assert [os.get_blocking(fd) for fd in (piped.stdin, piped.stdout, piped.stderr)] == [False] * 3
        assert os.getpgid(piped.pid) == piped.pid != os.getpgid(0)
        with pytest.raises(BlockingIOError):
            os.read(piped.stdout, 100)  # nothing written yet: no blocking read
        os.write(piped.stdin, b"ping")
        os.close(piped.stdin)
        received = b""
        while True:
            select.select([piped.stdout], [], [], 5)
            chunk = os.read(piped.stdout, 100)
            if not chunk:
                break
            received += chunk
        assert received == b"ping"
        _, status = os.waitpid(piped.pid, 0)
        assert status == 0
    finally:
        for fd in (piped.stdout, piped.stderr):
            os.close(fd)
        child_process.kill_group(piped.pid)


def test_spawned_programs_get_sigpipe_back_at_its_default():
    # Python ignores SIGPIPE; a legacy program expects to die of it when its reader is gone.
    piped = spawn_piped(["/usr/bin/yes"], ENV, None)
    for fd in (piped.stdin, piped.stdout, piped.stderr):
        os.close(fd)
    status = child_process.wait_exit(piped.pid, 5.0)
    if status is None:
        child_process.kill_group(piped.pid)
        child_process.wait_exit(piped.pid)
    assert status is not None and status_error(status)[0] == "Executable.SIGPIPE"


# -- statuses ----------------------------------------------------------------------------

@pytest.mark.parametrize("script, expected", [
    ("ulimit -c 0; kill -SEGV $$", ("Executable.SIGSEGV", "killed by SIGSEGV")),
    ("kill -KILL $$", ("Executable.SIGKILL", "killed by SIGKILL")),
    ("exit 3", ("Executable.ExitCode3", "exited with code 3")),
    ("exit 0", ("Executable.ExitCode0", "exited with code 0")),
    ("exit 255", ("Executable.ExitCode255", "exited with code 255")),
])
def test_status_error_for_real_statuses(tmp_path, script, expected):
    status = _wait_status(["/bin/sh", "-c", script], tmp_path)
    assert status_error(status) == expected
    assert describe_status(status) == expected[1]


def test_signal_name_of_an_unknown_number():
    assert child_process.signal_name(int(signal.SIGTERM)) == "SIGTERM"
    unknown = max(int(s) for s in signal.Signals) + 1
    assert child_process.signal_name(unknown) == "signal %d" % unknown


# -- the helpers run() is made of --------------------------------------------------------

def test_wait_exit_gives_none_while_running_and_terminate_ends_the_group(tmp_path):
    pidfile = tmp_path / "pid"
    prog = _script(tmp_path, "p.sh", 'sleep 30 &\necho $! > "%s"\nwait\n' % pidfile)
    piped = spawn_piped([prog], ENV, None)
    try:
        while not pidfile.exists() or not pidfile.read_text().strip():
            time.sleep(0.01)
        assert child_process.wait_exit(piped.pid, 0.05) is None
        status = child_process.terminate(piped.pid, 2.0)
        assert status_error(status)[0] == "Executable.SIGTERM"
        assert not alive(piped.pid)
        deadline = time.monotonic() + 5  # the group's sleep got TERM too; the sweep reaps it
        while alive(_read_pid(pidfile)) and time.monotonic() < deadline:
            child_process.reap()
            time.sleep(0.01)
        assert not alive(_read_pid(pidfile))
    finally:
        for fd in (piped.stdin, piped.stdout, piped.stderr):
            os.close(fd)
        child_process.kill_group(piped.pid)
        child_process.sweep()


def test_reap_keeps_a_spared_childs_status_for_wait_exit():
    pid = _spawn_plain(["/bin/sh", "-c", "exit 5"], Path("/"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until it is a zombie
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    child_process.reap([pid])
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already
    status = child_process.wait_exit(pid, 1.0)
    assert status is not None and status_error(status)[0] == "Executable.ExitCode5"


def test_terminate_children_ends_every_child_even_one_that_ignores_sigterm(tmp_path):
    ready = tmp_path / "ready"
    stubborn = _script(tmp_path, "stubborn.sh", 'trap "" TERM\necho > "%s"\nwhile :; do sleep 1; done\n' % ready)
    pids = [spawn_piped([stubborn], ENV, None), spawn_piped(["/bin/sleep", "30"], ENV, None)]
    try:
        deadline = time.monotonic() + 5
        while not ready.exists() and time.monotonic() < deadline:  # its trap is set
            time.sleep(0.01)
        child_process.terminate_children(0.2)
        assert [alive(p.pid) for p in pids] == [False, False]
    finally:
        for piped in pids:
            for fd in (piped.stdin, piped.stdout, piped.stderr):
                os.close(fd)
            child_process.kill_group(piped.pid)
        child_process.sweep()


def test_become_subreaper_succeeds_unprivileged():
    assert child_process.become_subreaper() is True


# -- LineSplitter ------------------------------------------------------------------------

def test_line_splitter_splits_and_joins_across_feeds():
    lines: List[str] = []
    splitter = LineSplitter(lines.append)
    splitter.feed(b"one\ntw")
    assert lines == ["one"]
    splitter.feed(b"o\nthr")
    splitter.feed(b"ee\n\nfour")
    assert lines == ["one", "two", "three", ""]
    splitter.close()
    assert lines == ["one", "two", "three", "", "four"]
    splitter.close()
    assert lines[-1] == "four" and len(lines) == 5, "close() emits a partial line once"


def test_line_splitter_strips_cobol_padding_but_not_leading_spaces():
    lines: List[str] = []
    splitter = LineSplitter(lines.append)
    splitter.feed(b"HELLO, WORLD" + b" " * 68 + b"\n  indented  \r\n\xff\xfe bad bytes\n")
    assert lines == ["HELLO, WORLD", "  indented", "\ufffd\ufffd bad bytes"]


def test_line_splitter_passes_on_a_very_long_line_without_newline():
    lines: List[str] = []
    splitter = LineSplitter(lines.append)
    limit = child_process._READ_SIZE
    splitter.feed(b"x" * (limit // 2))
    assert lines == [], "a partial line is held while it is short"
    splitter.feed(b"x" * (limit // 2 + 10))
    assert lines == ["x" * (limit + 10)], "held no longer than the read size, passed on whole"
    splitter.feed(b"y\n")
    assert lines[-1] == "y"


def test_line_splitter_tail_text_keeps_the_last_lines():
    lines: List[str] = []
    splitter = LineSplitter(lines.append)
    splitter.feed(b"".join(b"line %d\n" % i for i in range(50)))
    assert splitter.tail_text() == "\n".join(lines[-child_process._STDERR_TAIL_LINES:])
    assert splitter.tail_text().split("\n")[-1] == "line 49"
