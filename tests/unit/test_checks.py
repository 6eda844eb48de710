"""checks: the build checks refuse hostile trees cleanly (and never hang on a FIFO)."""

import os
import threading

from bootstrap_sdk.packaging.checks import check_tree
from bootstrap_sdk.packaging.zipper import UnsafeZip, write_zip


def finishes(function, timeout=10):
    """Run function in a thread: (finished, result or exception). A FIFO read would hang forever."""
    box = {}

    def run():
        try:
            box["result"] = function()
        except BaseException as exc:  # noqa: B902 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), box


def tree_errors(root):
    return check_tree(root, arch="x86_64", runtime="provided.al2023", needs_bootstrap=False).errors


def test_check_tree_reports_the_lexical_trick(tmp_path):
    root = tmp_path / "stage"
    (root / "x").mkdir(parents=True)
    os.symlink(".", root / "x" / "b")
    os.symlink("x/b/../..", root / "a")
    os.symlink("x/b/../y", root / "fine")
    errors = tree_errors(root)
    assert errors == ["a is a symlink to x/b/../.., which points outside the layer"]


def test_check_tree_still_refuses_absolute_and_plain_escapes(tmp_path):
    root = tmp_path / "stage"
    root.mkdir()
    os.symlink("/etc/passwd", root / "abs")
    os.symlink("../../etc/passwd", root / "up")
    os.symlink("missing/file", root / "dangling")
    os.symlink("loop", root / "loop")
    errors = tree_errors(root)
    assert "abs is a symlink to the absolute path /etc/passwd: make it relative, inside the layer" in errors
    assert "up is a symlink to ../../etc/passwd, which points outside the layer" in errors
    assert any(e.startswith("loop is a symlink to loop, which goes through more than 40 symlinks") for e in errors)
    assert len(errors) == 3


def test_check_tree_refuses_a_fifo_without_hanging(tmp_path):
    root = tmp_path / "stage"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("ok")
    os.chmod(root / "sub" / "ok.txt", 0o644)
    os.mkfifo(root / "sub" / "pipe")
    done, box = finishes(lambda: tree_errors(root))
    assert done, "check_tree hung on a FIFO"
    assert box["result"] == ["sub/pipe is a FIFO: a layer holds only files, directories and symlinks"]


def test_write_zip_refuses_a_fifo_without_hanging(tmp_path):
    root = tmp_path / "stage"
    root.mkdir()
    (root / "ok.txt").write_text("ok")
    os.mkfifo(root / "pipe")
    out = tmp_path / "out.zip"
    done, box = finishes(lambda: write_zip(root, out))
    assert done, "write_zip hung on a FIFO"
    assert isinstance(box.get("error"), UnsafeZip)
    assert "pipe is a FIFO" in str(box["error"])
    assert not out.exists() and not (tmp_path / "out.zip.partial").exists()


