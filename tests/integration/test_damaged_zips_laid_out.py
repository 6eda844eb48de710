"""Any damage to a zip laid out by the sandbox is a refusal, never a traceback or a write outside."""

import os
import stat
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap_sdk.packaging.zipper import UnsafeZip
from zip_builder import DIR, LNK, REG, make_zip, snapshot


def _hostile_base_zip(path):
    """A small layer-like zip: files, a directory, symlinks (one to an outside path)."""
    return make_zip(path, [("bin/", b"", DIR | 0o755), ("bin/tool", b"#!/opt/bin/x\n" * 20, REG | 0o755),
                           ("lib/libx.so", bytes(range(256)) * 4, REG | 0o644), ("lib/link", b"libx.so", LNK | 0o777),
                           ("escape", b"../../outside", LNK | 0o777)])


@given(data=st.data())
@settings(max_examples=int(os.environ.get('FUZZ_N', '150')), deadline=None)
def test_any_corrupted_zip_is_refused_cleanly(tmp_path_factory, data):
    from bootstrap_sdk.local.sandbox import SandboxError, lay_out

    tmp = tmp_path_factory.mktemp("fuzz")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("untouched")
    before = snapshot(outside)
    raw = bytearray(_hostile_base_zip(tmp / "base.zip").read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1), label="offset")
        raw[at] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[:data.draw(st.integers(0, len(raw)), label="length")]
    damaged = tmp / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    try:
        lay_out(tmp / "root", [damaged], None)
    except (SandboxError, UnsafeZip) as exc:
        assert "\n" not in str(exc) and str(exc)
    assert snapshot(outside) == before
    for base, dirs, files in os.walk(tmp / "root" / "opt"):
        for name in dirs + files:
            st_mode = os.lstat(Path(base) / name).st_mode
            assert not st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
            assert stat.S_ISREG(st_mode) or stat.S_ISDIR(st_mode) or stat.S_ISLNK(st_mode)
