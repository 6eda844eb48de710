"""workdir: per-invoke directories, the janitor that recycles them, and removing what
an unprivileged program left behind (read-only and unreadable directories)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import List

import pytest

from bootstrap_sdk.adapter.workdir import Workdirs, remove_tree

UNPRIVILEGED = os.geteuid() != 0


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _entries(root: Path) -> List[str]:
    return sorted(os.listdir(root))


def _litter(directory: Path) -> None:
    """What an unprivileged program can leave: read-only, unreadable and nested locked dirs."""
    (directory / "ro").mkdir()
    (directory / "ro" / "f").write_text("x")
    (directory / "ro").chmod(0o500)
    (directory / "deep" / "er").mkdir(parents=True)
    (directory / "deep" / "er" / "g").write_text("y")
    (directory / "deep" / "er").chmod(0o500)
    (directory / "deep").chmod(0o500)
    (directory / "locked" / "inner").mkdir(parents=True)
    (directory / "locked" / "inner" / "h").write_text("z")
    (directory / "locked" / "inner").chmod(0o000)
    (directory / "locked").chmod(0o000)
    (directory / "left.txt").write_text("data")
    (directory / "left.txt").chmod(0o000)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def workdirs(root: Path):
    dirs = Workdirs(str(root))
    yield dirs
    dirs.remove_all()


def _wait_for_janitor(root: Path, used: str) -> None:
    """Until the janitor has removed ``used`` and made the next directory (its visible work)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        names = _entries(root)
        if len(names) == 1 and os.path.join(str(root), names[0]) != used:
            return
        time.sleep(0.005)


# -- Workdirs ----------------------------------------------------------------------------

def test_take_gives_a_fresh_empty_private_directory_under_the_root(root, workdirs):
    first = workdirs.take()
    assert os.path.dirname(first) == str(root)
    assert os.path.isdir(first) and os.listdir(first) == []
    assert _mode(first) == 0o700
    assert str(os.getpid()) in os.path.basename(first)
    workdirs.recycle()
    second = workdirs.take()
    assert second != first
    assert os.path.isdir(second) and os.listdir(second) == [] and _mode(second) == 0o700


def test_recycle_removes_the_used_directory_and_prepares_the_next(root, workdirs):
    seen = []
    for _ in range(3):
        path = workdirs.take()  # waits for the janitor if it is late
        seen.append(path)
        assert os.listdir(path) == [], "each invoke starts empty"
        assert _entries(root) == [os.path.basename(path)], "the previous one is gone"
        Path(path, "output.dat").write_text("left by the program")
        (Path(path) / "sub").mkdir()
        workdirs.recycle()
    _wait_for_janitor(root, seen[-1])
    names = _entries(root)
    assert len(names) == 1 and os.path.join(str(root), names[0]) not in seen, "the next one is ready"
    assert os.listdir(root / names[0]) == []
    assert len(set(seen)) == 3


def test_recycle_removes_littered_directories(root, workdirs):
    used = workdirs.take()
    _litter(Path(used))
    workdirs.recycle()
    ready = workdirs.take()
    assert not os.path.exists(used)
    assert _entries(root) == [os.path.basename(ready)]


def test_remove_all_removes_the_directory_in_use(root, workdirs):
    used = workdirs.take()
    Path(used, "file").write_text("x")
    workdirs.remove_all()
    assert _entries(root) == []


def test_remove_all_removes_the_prepared_directory(root, workdirs):
    used = workdirs.take()
    workdirs.recycle()
    _wait_for_janitor(root, used)
    assert len(_entries(root)) == 1, "the janitor made the next directory"
    workdirs.remove_all()
    assert _entries(root) == []


def test_directory_names_are_unpredictable(root, workdirs):
    """A program cannot plant the next directory's name: it is not a counter."""
    names = set()
    for _ in range(5):
        names.add(os.path.basename(workdirs.take()))
        workdirs.recycle()
    assert len(names) == 5
    for name in names:
        owner, _, token = name[len("invoke-"):].rpartition("-")
        assert owner.startswith("%d." % os.getpid())
        assert len(token) == 16 and int(token, 16) >= 0
    assert len({name.rpartition("-")[2] for name in names}) == 5


def test_a_program_that_swaps_its_directory_for_a_symlink_empties_nothing(root, workdirs, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("keep me")
    (precious / "sub").mkdir()
    used = workdirs.take()
    os.rename(used, str(root / "moved-away"))  # what the program can do: it owns the directory
    os.symlink(str(precious), used)
    workdirs.recycle()
    workdirs.take()
    assert not os.path.lexists(used), "the symlink itself is removed"
    assert (precious / "data").read_text() == "keep me" and (precious / "sub").is_dir()


def test_a_symlink_planted_inside_is_removed_not_followed(root, workdirs, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("keep me")
    used = workdirs.take()
    (Path(used) / "deep").mkdir()
    os.symlink(str(precious), os.path.join(used, "deep", "link"))
    os.symlink(str(precious / "data"), os.path.join(used, "file-link"))
    workdirs.recycle()
    workdirs.take()
    assert not os.path.lexists(used)
    assert (precious / "data").read_text() == "keep me"


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_remove_leftovers_removes_what_dead_runtimes_left_and_spares_the_living(root, tmp_path):
    from bootstrap_sdk.adapter.workdir import _start_time

    dead = root / ("invoke-%d.12345-00112233aabbccdd" % _dead_pid())
    dead.mkdir()
    _litter(dead)  # killed mid-invoke: whatever the program left, read-only directories included
    same_pid_earlier = root / ("invoke-%d.1-0123456789abcdef" % os.getpid())  # restarted: same pid, later start
    same_pid_earlier.mkdir()
    older_format = root / ("invoke-%d-7" % _dead_pid())
    older_format.mkdir()
    mine = Workdirs(str(root)).take()  # this runtime's own: alive
    sleeper = os.fork()
    if sleeper == 0:
        time.sleep(30)
        os._exit(0)
    try:
        living = root / ("invoke-%d.%s-fedcba9876543210" % (sleeper, _start_time(sleeper)))
        living.mkdir()
        precious = tmp_path / "precious"
        precious.mkdir()
        (precious / "data").write_text("keep me")
        planted = root / ("invoke-%d.99-0000000000000000" % _dead_pid())
        planted.symlink_to(precious)
        (root / "other-file").write_text("not ours to judge")
        (root / "invoke-notapid-x").mkdir()

        removed = Workdirs(str(root)).remove_leftovers()

        assert sorted(removed) == sorted([dead.name, same_pid_earlier.name, older_format.name, planted.name])
        assert sorted(_entries(root)) == sorted([os.path.basename(mine), living.name, "other-file",
                                                 "invoke-notapid-x"])
        assert (precious / "data").read_text() == "keep me"
    finally:
        os.kill(sleeper, 9)
        os.waitpid(sleeper, 0)


@pytest.mark.skipif(UNPRIVILEGED, reason="needs a second user to own a directory")
def test_remove_leftovers_spares_another_users_directories(root):
    theirs = root / ("invoke-%d.5-0011223344556677" % _dead_pid())
    theirs.mkdir()
    os.chown(theirs, 993, 990)
    assert Workdirs(str(root)).remove_leftovers() == []
    assert theirs.is_dir()


def test_take_fails_loudly_when_the_root_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        Workdirs(str(tmp_path / "nowhere")).take()


def test_a_forked_worker_takes_its_own_directory_and_leaves_the_parents_alone(root, workdirs):
    workdirs.take()
    workdirs.recycle()
    parents = workdirs.take()  # the janitor has run; the parent is mid-invoke in ``parents``
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked worker inherits the object, not the parent's directories
        try:
            os.close(read_end)
            workdirs.remove_all()
            spared = os.path.isdir(parents)
            own = workdirs.take()
            fresh = os.path.isdir(own) and os.listdir(own) == []
            workdirs.remove_all()
            report = "%s\n%d\n%d\n%d" % (own, spared, fresh, os.path.exists(own))
            os.write(write_end, report.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as handle:
        child_own, child_spared, child_fresh, child_left = handle.read().split("\n")
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert child_spared == "1", "the worker's remove_all spared the parent's directory"
    assert child_own != parents and os.path.dirname(child_own) == str(root)
    assert os.path.basename(child_own).startswith("invoke-%d." % pid)
    assert child_fresh == "1" and child_left == "0", "the worker's own directory is fresh, and removed by it"
    assert _entries(root) == [os.path.basename(parents)]


# -- remove_tree -------------------------------------------------------------------------

def test_remove_tree_removes_read_only_and_unreadable_directories(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    _litter(victim)
    if UNPRIVILEGED:  # the case is real: a plain rm -rf fails on this tree
        with pytest.raises(PermissionError):
            os.unlink(victim / "ro" / "f")
        with pytest.raises(PermissionError):
            os.scandir(victim / "locked")
    remove_tree(str(victim))
    assert not victim.exists()
    assert os.listdir(tmp_path) == []


def test_remove_tree_opens_up_a_root_the_program_locked(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text("x")
    (victim / "d").mkdir()
    victim.chmod(0o000)
    if UNPRIVILEGED:
        with pytest.raises(PermissionError):
            os.listdir(victim)
    remove_tree(str(victim))
    assert not victim.exists()


def test_remove_tree_removes_a_readable_but_unsearchable_directory(tmp_path):
    victim = tmp_path / "victim"
    (victim / "out" / "sub").mkdir(parents=True)
    (victim / "out" / "sub" / "f").write_text("x")
    (victim / "out").chmod(0o644)
    if UNPRIVILEGED:
        with pytest.raises(PermissionError):
            os.scandir(victim / "out" / "sub")
    try:
        remove_tree(str(victim))
        assert not victim.exists()
    finally:
        if victim.exists():  # let pytest clean up after the failure
            (victim / "out").chmod(0o700)


def test_remove_tree_does_not_follow_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (victim / "link-to-file").symlink_to(outside / "precious")
    (victim / "dangling").symlink_to(tmp_path / "nothing")
    outside.chmod(0o500)  # were it followed, the target would be opened up and emptied
    try:
        remove_tree(str(victim))
        assert not victim.exists()
        assert (outside / "precious").read_text() == "keep me"
        assert _mode(str(outside)) == 0o500
    finally:
        outside.chmod(0o700)


def test_remove_tree_of_a_missing_path_is_a_no_op(tmp_path):
    remove_tree(str(tmp_path / "never-made"))
    assert os.listdir(tmp_path) == []


def test_remove_tree_removes_many_entries_and_special_files(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    for i in range(200):
        (victim / ("f%d" % i)).write_bytes(b"")
    os.mkfifo(victim / "fifo")
    (victim / "a" / "b" / "c" / "d").mkdir(parents=True)
    remove_tree(str(victim))
    assert not victim.exists()


def test_remove_tree_handles_nesting_deeper_than_recursion_and_descriptor_limits(tmp_path):
    """A program can nest directories thousands deep (mkdirat, one level at a time)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    fd = os.open(str(victim), os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    remove_tree(str(victim))
    assert os.listdir(tmp_path) == []


def test_remove_tree_of_a_symlink_removes_the_link_only(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "data").write_text("keep me")
    link = tmp_path / "link"
    link.symlink_to(target)
    remove_tree(str(link))
    assert not os.path.lexists(link) and (target / "data").read_text() == "keep me"
