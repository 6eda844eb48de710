"""zipper: extraction that cannot escape its destination, whatever the zip holds.

Extraction runs as root in the local loop, so every hostile zip must be refused cleanly
and nothing may ever be written outside the destination.
"""

import io
import os
import stat
import struct
import zipfile

import pytest

from bootstrap_sdk.packaging.zipper import (LinkEscape, LinkLoop, UnsafeZip, extract, resolve_inside, unzipped_size,
                                           write_zip)
from zip_builder import DIR, LNK, REG, make_zip, snapshot


@pytest.fixture
def outside(tmp_path):
    """A sibling of every destination, with a sentinel that no extraction may touch."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "sentinel").write_text("untouched")
    os.chmod(out / "sentinel", 0o644)
    before = snapshot(out)
    yield out
    assert snapshot(out) == before, "something was written outside the destination"


@pytest.fixture
def dest(tmp_path):
    d = tmp_path / "dest"
    d.mkdir()
    return d


@pytest.fixture
def sandbox_root(tmp_path):
    """The local loop's layout: tree_root stands for /, layers in /opt, the function in /var/task."""
    root = tmp_path / "root"
    for name in ("opt", "var/task", "tmp"):
        (root / name).mkdir(parents=True)
    return root


def refused(zip_path, destination, *fragments, **kwargs):
    with pytest.raises(UnsafeZip) as caught:
        extract(zip_path, destination, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert str(zip_path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- writing through symlinks ------------------------------------------------------------

def test_relative_link_out_then_a_file_through_it(tmp_path, dest, outside):
    z = make_zip(tmp_path / "evil.zip", [("a", b"../outside", LNK | 0o777), ("a/pwned", b"x", REG | 0o644)])
    refused(z, dest, "'a/pwned'", "goes through 'a'", "symlink")
    assert os.listdir(dest) == []  # refused before anything was written


def test_absolute_link_to_the_host_then_a_file_through_it(tmp_path, dest, outside):
    z = make_zip(tmp_path / "evil.zip", [("a", str(outside).encode(), LNK | 0o777), ("a/pwned", b"x", REG | 0o644)])
    refused(z, dest, "'a/pwned'", "symlink")
    assert os.listdir(dest) == []


def test_relative_link_out_alone_is_refused(tmp_path, dest, outside):
    z = make_zip(tmp_path / "evil.zip", [("a", b"../outside", LNK | 0o777)])
    refused(z, dest, "entry 'a'", "'../outside'", "leads outside the tree")
    assert not os.path.lexists(dest / "a")


def test_a_later_layer_file_replaces_an_earlier_layer_link(tmp_path, sandbox_root, outside):
    """Default tree root: the absolute link is judged as if /opt were /, so it is kept, and
    the next layer's file must replace the link, not write to the host path it names."""
    opt = sandbox_root / "opt"
    extract(make_zip(tmp_path / "l1.zip", [("a", str(outside / "sentinel").encode(), LNK | 0o777)]), opt)
    assert (opt / "a").is_symlink()
    extract(make_zip(tmp_path / "l2.zip", [("a", b"layer two", REG | 0o4755)]), opt)
    assert not (opt / "a").is_symlink()
    assert (opt / "a").read_bytes() == b"layer two"
    assert stat.S_IMODE((opt / "a").lstat().st_mode) == 0o755


def test_a_later_layer_file_replaces_a_link_with_the_sandbox_as_tree_root(tmp_path, sandbox_root, outside):
    opt = sandbox_root / "opt"
    refused(make_zip(tmp_path / "host.zip", [("a", b"/etc/shadow", LNK | 0o777)]), opt,
            "entry 'a'", "links may lead only into /opt or /var/task or /tmp", tree_root=sandbox_root)
    extract(make_zip(tmp_path / "l1.zip", [("a", b"/var/task/a", LNK | 0o777)]), opt, tree_root=sandbox_root)
    extract(make_zip(tmp_path / "l2.zip", [("a", b"layer two", REG | 0o644)]), opt, tree_root=sandbox_root)
    assert (opt / "a").read_bytes() == b"layer two"
    assert os.listdir(sandbox_root / "var" / "task") == []


@pytest.mark.parametrize("with_tree_root", [False, True])
def test_a_later_layer_cannot_write_through_an_earlier_layer_link(tmp_path, sandbox_root, outside, with_tree_root):
    opt = sandbox_root / "opt"
    kwargs = {"tree_root": sandbox_root} if with_tree_root else {}
    target = b"/var/task" if with_tree_root else str(outside).encode()
    extract(make_zip(tmp_path / "l1.zip", [("a", target, LNK | 0o777)]), opt, **kwargs)
    refused(make_zip(tmp_path / "l2.zip", [("a/x", b"pwned", REG | 0o4755)]), opt,
            "entry 'a/x'", "goes through the symlink 'a'", **kwargs)
    assert (opt / "a").is_symlink() and os.listdir(opt) == ["a"]
    assert os.listdir(sandbox_root / "var" / "task") == []


def test_a_directory_entry_replaces_a_link_and_a_file(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "l1.zip", [("a", str(outside).encode(), LNK | 0o777), ("f", b"x", REG | 0o644)]),
            dest)
    extract(make_zip(tmp_path / "l2.zip", [("a/", b"", DIR | 0o755), ("a/x", b"mine", REG | 0o644),
                                            ("f/", b"", DIR | 0o750)]), dest)
    assert (dest / "a").is_dir() and not (dest / "a").is_symlink()
    assert (dest / "a" / "x").read_bytes() == b"mine"
    assert stat.S_IMODE((dest / "f").stat().st_mode) == 0o750


def test_a_file_entry_over_an_existing_directory_is_refused(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "l1.zip", [("d/", b"", DIR | 0o755), ("d/keep", b"k", REG | 0o644)]), dest)
    refused(make_zip(tmp_path / "l2.zip", [("d", b"x", REG | 0o644)]), dest, "entry 'd'", "replace a directory")
    refused(make_zip(tmp_path / "l3.zip", [("d", b"elsewhere", LNK | 0o777)]), dest, "replace a directory")
    assert (dest / "d" / "keep").read_bytes() == b"k"


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_file_then_a_directory_of_the_same_name_in_one_zip(tmp_path, dest, outside):
    """Duplicates: later wins, unless that breaks the rules (a file over a directory)."""
    z = make_zip(tmp_path / "dup.zip", [("f", b"one", REG | 0o644), ("f", b"two", REG | 0o600)])
    extract(z, dest)
    assert (dest / "f").read_bytes() == b"two" and stat.S_IMODE((dest / "f").stat().st_mode) == 0o600
    z = make_zip(tmp_path / "dup2.zip", [("d/x", b"one", REG | 0o644), ("d", b"two", REG | 0o644)])
    refused(z, dest, "entry 'd'", "would replace the directory 'd'")
    z = make_zip(tmp_path / "dup3.zip", [("g", b"one", REG | 0o644), ("g/x", b"two", REG | 0o644)])
    refused(z, dest, "entry 'g/x'", "goes through 'g', a file")


# -- symlink targets ---------------------------------------------------------------------

def test_absolute_lambda_paths_are_fine_with_the_sandbox_as_tree_root(tmp_path, sandbox_root, outside):
    layer = make_zip(tmp_path / "layer.zip", [("lib/x", b"lib", REG | 0o644),
                                              ("lib/x.so", b"/opt/lib/x", LNK | 0o777),
                                              ("bin/later", b"/opt/not/yet/there", LNK | 0o777)])
    extract(layer, sandbox_root / "opt", tree_root=sandbox_root)
    function = make_zip(tmp_path / "fn.zip", [("uses", b"/opt/lib/x", LNK | 0o777),
                                              ("up", b"../../opt/lib/x", LNK | 0o777),
                                              ("cache", b"/tmp/cache", LNK | 0o777)])
    extract(function, sandbox_root / "var" / "task", tree_root=sandbox_root)
    assert os.readlink(sandbox_root / "opt" / "lib" / "x.so") == "/opt/lib/x"
    assert os.readlink(sandbox_root / "var" / "task" / "uses") == "/opt/lib/x"
    assert os.readlink(sandbox_root / "var" / "task" / "cache") == "/tmp/cache"  # the sandbox's /tmp


@pytest.mark.parametrize("target", ["/etc/passwd", "/", "/opt/../etc/shadow", "../../../etc/passwd", "/..",
                                    "../etc/passwd", "/tmp/../etc", "/var/taskforce", "/var/task/../../etc"])
def test_links_to_system_or_host_paths_are_refused(tmp_path, sandbox_root, outside, target):
    z = make_zip(tmp_path / "layer.zip", [("passwd", target.encode(), LNK | 0o777)])
    refused(z, sandbox_root / "opt", "entry 'passwd'", repr(target), tree_root=sandbox_root)
    assert not os.path.lexists(sandbox_root / "opt" / "passwd")


def test_default_tree_root_judges_absolute_targets_inside_the_destination(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "ok.zip", [("a", b"/bin/tool", LNK | 0o777)]), dest)
    refused(make_zip(tmp_path / "up.zip", [("b", b"/../outside", LNK | 0o777)]), dest, "leads outside the tree")


def test_dangling_link_inside_is_allowed(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "d.zip", [("bin/a", b"../lib/missing/x", LNK | 0o777)]), dest)
    assert os.readlink(dest / "bin" / "a") == "../lib/missing/x"


def test_lexical_trick_is_refused(tmp_path, dest, outside):
    z = make_zip(tmp_path / "trick.zip", [("x/b", b".", LNK | 0o777), ("a", b"x/b/../..", LNK | 0o777)])
    refused(z, dest, "entry 'a'", "'x/b/../..'", "leads outside the tree")
    assert not os.path.lexists(dest / "a")


def test_lexical_trick_in_the_other_order_is_caught_after_extraction(tmp_path, dest, outside):
    z = make_zip(tmp_path / "trick.zip", [("a", b"x/b/../..", LNK | 0o777), ("x/b", b".", LNK | 0o777)])
    refused(z, dest, "after extraction", "'a'", "leads outside the tree")
    assert not os.path.lexists(dest / "a")  # the escaping link is gone


def test_lexical_trick_across_layers(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "l1.zip", [("a", b"x/b/../..", LNK | 0o777)]), dest)
    refused(make_zip(tmp_path / "l2.zip", [("x/b", b".", LNK | 0o777)]), dest, "after extraction", "'a'")
    assert not os.path.lexists(dest / "a")


def test_a_refused_zip_leaves_no_escaping_link_behind(tmp_path, dest, outside):
    z = make_zip(tmp_path / "mixed.zip", [("a", b"x/b/../..", LNK | 0o777), ("x/b", b".", LNK | 0o777),
                                          ("f", b"payload" * 100, REG | 0o644)])
    patch_central(z, b"f", 16, "<I", 0xDEADBEEF)  # refused at 'f', after both links are in
    refused(z, dest, "entry 'f'", "CRC")
    assert not os.path.lexists(dest / "a")


def test_link_loops_and_bad_targets_are_refused(tmp_path, dest, outside):
    refused(make_zip(tmp_path / "loop.zip", [("a", b"b", LNK | 0o777), ("b", b"a", LNK | 0o777)]), dest,
            "after extraction", "now goes through more than 40 symlinks")
    for i, target in enumerate([b"", b"x" * 4097, b"a\x00b"]):
        refused(make_zip(tmp_path / ("bad%d.zip" % i), [("t", target, LNK | 0o777)]), dest, "entry 't'", "target")


def test_resolver_follows_links_in_the_tree(tmp_path):
    root = tmp_path / "t"
    (root / "x").mkdir(parents=True)
    os.symlink(".", root / "x" / "b")
    os.symlink("/x", root / "abs")
    assert resolve_inside(root, ["x"], "b/b/../y") == ["y"]
    assert resolve_inside(root, [], "abs/b/z") == ["x", "z"]
    with pytest.raises(LinkEscape):
        resolve_inside(root, [], "x/b/../..")
    os.symlink("loop", root / "loop")
    with pytest.raises(LinkLoop):
        resolve_inside(root, [], "loop")


# -- modes and file types ----------------------------------------------------------------

def test_setuid_setgid_sticky_are_stripped(tmp_path, dest, outside):
    z = make_zip(tmp_path / "suid.zip", [("bin/", b"", DIR | 0o1777 | stat.S_ISGID),
                                         ("bin/tool", b"#!x", REG | 0o7755)])
    extract(z, dest)
    tool = (dest / "bin" / "tool").stat().st_mode
    assert stat.S_IMODE(tool) == 0o755
    assert not tool & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert stat.S_IMODE((dest / "bin").stat().st_mode) == 0o777


@pytest.mark.parametrize("kind, word", [(stat.S_IFCHR, "a character device"), (stat.S_IFBLK, "a block device"),
                                        (stat.S_IFIFO, "a FIFO"), (stat.S_IFSOCK, "a socket")])
def test_special_files_are_refused(tmp_path, dest, outside, kind, word):
    z = make_zip(tmp_path / "dev.zip", [("ok", b"fine", REG | 0o644), ("dev/thing", b"", kind | 0o666)])
    refused(z, dest, "entry 'dev/thing'", "is %s" % word, "only files, directories and symlinks")
    assert os.listdir(dest) == []


def test_a_read_only_directory_does_not_block_later_entries(tmp_path, dest, outside):
    z = make_zip(tmp_path / "ro.zip", [("ro/", b"", DIR | 0o555), ("ro/sub/", b"", DIR | 0o500),
                                       ("ro/sub/f", b"data", REG | 0o444), ("ro/g", b"g", REG | 0o644)])
    extract(z, dest)
    assert (dest / "ro" / "sub" / "f").read_bytes() == b"data"
    assert stat.S_IMODE((dest / "ro").stat().st_mode) == 0o555
    assert stat.S_IMODE((dest / "ro" / "sub").stat().st_mode) == 0o500
    assert stat.S_IMODE((dest / "ro" / "g").stat().st_mode) == 0o644


# -- names -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [("/etc/cron.d/x", "absolute"), ("../x", "'..'"), ("a/../../x", "'..'"),
                                         ("a\\..\\x", "backslash"), ("a\x00b", "NUL"), ("", "empty"),
                                         ("./", "names no file")])
def test_bad_names_are_refused_before_anything_is_written(tmp_path, dest, outside, name, words):
    z = tmp_path / "names.zip"
    stand_in = name.replace("\x00", "#") if name else "#####"
    with zipfile.ZipFile(z, "w") as archive:
        archive.writestr("first", b"written first?")
        archive.writestr(zipfile.ZipInfo(stand_in), b"x")
    if stand_in != name:  # zipfile will not write a NUL or an empty name: patch it in, both headers
        z.write_bytes(z.read_bytes().replace(stand_in.encode(), stand_in.replace("#", "\x00").encode()))
    refused(z, dest, words)
    assert os.listdir(dest) == []


# -- lying and broken zips ---------------------------------------------------------------

def central_offset(data, name):
    """Where the central directory header for name starts."""
    at = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack("<H", data[at + 28:at + 30])[0]
        if data[at + 46:at + 46 + name_len] == name:
            return at
        at = data.index(b"PK\x01\x02", at + 4)


def patch_central(path, name, offset, fmt, value):
    data = bytearray(path.read_bytes())
    at = central_offset(bytes(data), name)
    struct.pack_into(fmt, data, at + offset, value)
    path.write_bytes(bytes(data))


def test_a_member_bigger_than_its_claim_is_refused(tmp_path, dest, outside):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("big", b"A" * (1 << 20))
    patch_central(z, b"big", 24, "<I", 10)  # uncompressed size: 10 bytes, says the central directory
    assert unzipped_size(z) == 10
    refused(z, dest, "entry 'big'")
    assert not os.path.lexists(dest / "big")


def test_a_deflated_bomb_that_lies_is_refused(tmp_path, dest, outside):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big", b"\x00" * (8 << 20))
    patch_central(z, b"big", 24, "<I", 100)
    refused(z, dest, "entry 'big'")
    assert not os.path.lexists(dest / "big")


def test_more_bytes_than_claimed_stop_extraction_whatever_zipfile_does(tmp_path, dest, outside, monkeypatch):
    """zipfile itself stops at file_size today; the bound here does not rely on that."""
    z = make_zip(tmp_path / "claim.zip", [("small", b"0123456789", REG | 0o644)])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info, *a, **k: io.BytesIO(b"A" * (3 << 20)))
    refused(z, dest, "entry 'small'", "more than the 10 bytes")
    assert not os.path.lexists(dest / "small")


def test_a_crc_mismatch_is_refused(tmp_path, dest, outside):
    z = make_zip(tmp_path / "crc.zip", [("f", b"hello world" * 100, REG | 0o644)])
    patch_central(z, b"f", 16, "<I", 0xDEADBEEF)
    refused(z, dest, "entry 'f'", "CRC")
    assert not os.path.lexists(dest / "f")


def test_unsupported_compression_and_encryption_are_refused(tmp_path, dest, outside):
    z = make_zip(tmp_path / "method.zip", [("f", b"data", REG | 0o644)])
    patch_central(z, b"f", 10, "<H", 99)
    refused(z, dest, "entry 'f'")
    z = make_zip(tmp_path / "enc.zip", [("f", b"data", REG | 0o644)])
    patch_central(z, b"f", 8, "<H", 0x1)
    refused(z, dest, "entry 'f'", "encrypted")


def test_a_truncated_or_non_zip_file_is_refused(tmp_path, dest, outside):
    z = make_zip(tmp_path / "t.zip", [("f", b"data" * 1000, REG | 0o644)])
    (tmp_path / "cut.zip").write_bytes(z.read_bytes()[:100])
    refused(tmp_path / "cut.zip", dest, "not a readable zip")
    (tmp_path / "text.zip").write_text("not a zip")
    refused(tmp_path / "text.zip", dest, "not a readable zip")


def test_a_member_truncated_inside_is_refused(tmp_path, dest, outside):
    """Central directory intact, member data cut short: an error, not a traceback."""
    z = tmp_path / "short.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("f", os.urandom(50000))
    data = bytearray(z.read_bytes())
    start = 30 + 1  # local header + name
    data[start + 100:start + 40000] = b"\x00" * (40000 - 100)
    z.write_bytes(bytes(data))
    refused(z, dest, "entry 'f'")


# -- what worked before still works ------------------------------------------------------

def test_a_normal_layer_zip_round_trips(tmp_path, dest, outside):
    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    (tree / "bootstrap").write_text("#!/bin/sh\n")
    os.chmod(tree / "bootstrap", 0o755)
    (tree / "lib" / "libx.so.1").write_bytes(b"\x7fELF...")
    os.chmod(tree / "lib" / "libx.so.1", 0o644)
    os.symlink("libx.so.1", tree / "lib" / "libx.so")
    os.symlink("lib", tree / "libdir")
    write_zip(tree, tmp_path / "layer.zip")
    extract(tmp_path / "layer.zip", dest)
    assert stat.S_IMODE((dest / "bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "lib" / "libx.so.1").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "lib").stat().st_mode) == 0o755
    assert os.readlink(dest / "lib" / "libx.so") == "libx.so.1"
    assert (dest / "libdir" / "libx.so").read_bytes() == b"\x7fELF..."


def test_a_zip_without_unix_modes_gives_0600_files_and_0755_directories(tmp_path, dest, outside):
    z = make_zip(tmp_path / "dos.zip", [("d/", b"", None), ("d/f", b"x", None), ("g", b"y", None)], unix=False)
    extract(z, dest)
    assert stat.S_IMODE((dest / "d" / "f").stat().st_mode) == 0o600
    assert stat.S_IMODE((dest / "g").stat().st_mode) == 0o600
    assert stat.S_IMODE((dest / "d").stat().st_mode) == 0o755


def test_implicit_directories_are_0755(tmp_path, dest, outside):
    extract(make_zip(tmp_path / "i.zip", [("a/b/c", b"x", REG | 0o644)]), dest)
    assert stat.S_IMODE((dest / "a").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "a" / "b").stat().st_mode) == 0o755


