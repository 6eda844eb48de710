"""image_root (local/image_root.py): unpack_image applying hand-made image layers into an empty root,
safely (whiteouts, opaque dirs, symlinks resolved inside the root, hostile entries refused or skipped)."""

from __future__ import annotations

import gzip
import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest
from hand_made_images import Member, put, sha256, tar_of

from bootstrap_sdk.local.image_root import ImageConfig, UnsafeImage, unpack_image
from bootstrap_sdk.packaging.checks import IMAGE_LIMIT, megabytes
from bootstrap_sdk.packaging.options import host_arch

ARCH = host_arch()
GOARCH = {"x86_64": "amd64", "arm64": "arm64"}[ARCH]
OTHER_GOARCH = "arm64" if GOARCH == "amd64" else "amd64"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


# -- images made by hand (tarfile, gzip, json, hashlib) ------------------------------------------

def f(name: str, data: bytes = b"", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.mode, info.size, info.mtime = mode, len(data), 1
    return info, data


def d(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, target, 0o777 if kind == tarfile.SYMTYPE else 0o644
    return info, None


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.devmajor, info.devminor = kind, 0o666, 1, 3
    return info, None


class Image(NamedTuple):
    layout: Path
    layers: List[Dict[str, object]]   # the layer descriptors

    def digest(self, number: int) -> str:
        """How unpack_image names layer ``number`` (from 1) in its messages."""
        return str(self.layers[number - 1]["digest"])[:19]


def write_image(layout: Path, layer_descriptors: List[Dict[str, object]], diff_ids: List[str],
                arch: str = GOARCH, run: Optional[Dict[str, object]] = None,
                entry_type: str = OCI_MANIFEST) -> Image:
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = {"architecture": arch, "os": "linux", "config": run or {},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layer_descriptors,
                "config": put(layout, json.dumps(config).encode(), OCI_CONFIG)}
    entry = dict(put(layout, json.dumps(manifest).encode(), OCI_MANIFEST), mediaType=entry_type)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                   "manifests": [entry]}))
    return Image(layout, layer_descriptors)


def make_image(layout: Path, layers: Sequence[Sequence[Member]], **kwargs: Any) -> Image:
    """An OCI layout of ``layers`` (gzip tar, each), its config saying ``kwargs``."""
    raws = [tar_of(members) for members in layers]
    descriptors = [put(layout, gzip.compress(raw, mtime=0), OCI_LAYER_GZIP) for raw in raws]
    return write_image(layout, descriptors, [sha256(raw) for raw in raws], **kwargs)


def tree(root: Path) -> Dict[str, str]:
    """What is under ``root``: "dir", "file <content>" or "link <target>" by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        name = path.relative_to(root).as_posix()
        if stat.S_ISLNK(st.st_mode):
            found[name] = "link " + os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            found[name] = "dir"
        else:
            found[name] = "file " + path.read_bytes().decode()
    return found


def unpack(tmp_path: Path, layers: Sequence[Sequence[Member]], **kwargs: Any) -> Tuple[Path, ImageConfig]:
    image = make_image(tmp_path / "layout", layers, **kwargs)
    root = tmp_path / "root"
    root.mkdir()
    return root, unpack_image(image.layout, root, tmp_path / "scratch", ARCH)


def refusal(tmp_path: Path, layers: Sequence[Sequence[Member]], **kwargs: Any) -> Tuple[Image, Path, str]:
    image = make_image(tmp_path / "layout", layers, **kwargs)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(UnsafeImage) as caught:
        unpack_image(image.layout, root, tmp_path / "scratch", ARCH)
    return image, root, str(caught.value)


# -- layers, whiteouts, opaque dirs ------------------------------------------------------------------

def test_layers_are_applied_in_order_a_later_entry_replacing_an_earlier_one(tmp_path):
    root, _ = unpack(tmp_path, [
        [d("etc/"), f("etc/conf", b"one"), f("b", b"file b"), d("c/"), f("c/inner", b"x"), f("keep", b"k")],
        [d("etc/"), f("etc/conf", b"two"), d("b/"), f("b/inner", b"in b"), f("c", b"now a file")]])
    assert tree(root) == {"b": "dir", "b/inner": "file in b", "c": "file now a file", "etc": "dir",
                          "etc/conf": "file two", "keep": "file k"}


def test_a_whiteout_removes_a_lower_layers_file_and_a_whole_lower_layers_directory(tmp_path):
    root, _ = unpack(tmp_path, [
        [f("keep", b"k"), f("gone", b"g"), d("dir/"), d("dir/sub/", 0o500), f("dir/sub/f", b"f"), f("dir/g", b"g")],
        [f(".wh.gone"), f(".wh.dir")]])
    assert tree(root) == {"keep": "file k"}


def test_a_whiteout_of_what_is_not_there_writes_nothing(tmp_path):
    root, _ = unpack(tmp_path, [[f("keep", b"k")], [f("absent/deeper/.wh.thing")]])
    assert tree(root) == {"keep": "file k"}


def test_an_opaque_marker_empties_a_lower_layers_directory_but_keeps_what_its_layer_adds(tmp_path):
    root, _ = unpack(tmp_path, [
        [d("d/"), f("d/old", b"old"), d("d/sub/"), f("d/sub/f", b"f"), d("e/"), f("e/stays", b"s")],
        [d("d/"), f("d/new", b"new"), f("d/.wh..wh..opq")]])  # the marker after the entry: order does not matter
    assert tree(root) == {"d": "dir", "d/new": "file new", "e": "dir", "e/stays": "file s"}


def test_directory_modes_are_set_after_all_layers_so_a_read_only_directory_can_be_filled(tmp_path):
    root, _ = unpack(tmp_path, [[d("ro/", 0o555), f("ro/a", b"a")], [d("ro/", 0o555), f("ro/b", b"b")]])
    try:
        assert stat.S_IMODE((root / "ro").stat().st_mode) == 0o555
        assert tree(root) == {"ro": "dir", "ro/a": "file a", "ro/b": "file b"}
    finally:
        (root / "ro").chmod(0o755)


# -- symlinks of the image, resolved inside the root -------------------------------------------------

@pytest.mark.parametrize("same_layer", [True, False])
def test_entries_through_an_absolute_symlink_to_a_directory_land_inside_the_root(tmp_path, same_layer):
    first = [d("usr/"), d("usr/lib64/"), link("lib64", "/usr/lib64")]
    second = [f("lib64/x", b"x"), link("lib64/libc.so", "libc.so.6")]
    root, _ = unpack(tmp_path, [first + second] if same_layer else [first, second])
    assert tree(root) == {"lib64": "link /usr/lib64", "usr": "dir", "usr/lib64": "dir", "usr/lib64/x": "file x",
                          "usr/lib64/libc.so": "link libc.so.6"}


def test_a_symlink_to_slash_leads_to_the_root_never_to_the_hosts_slash(tmp_path):
    assert not os.path.lexists("/etc/pwned")
    root, _ = unpack(tmp_path, [[link("escape", "/"), f("escape/etc/pwned", b"pwned")]])
    assert tree(root) == {"escape": "link /", "etc": "dir", "etc/pwned": "file pwned"}
    assert not os.path.lexists("/etc/pwned")


def test_a_symlink_to_a_host_directory_is_followed_inside_the_root(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("host file")
    root, _ = unpack(tmp_path, [[link("hostdir", str(host))], [f("hostdir/.wh.keep"), f("hostdir/.wh..wh..opq")],
                                [f("hostdir/planted", b"p")]])
    inside = host.relative_to("/").parts
    assert tree(root) == dict({"/".join(inside[:depth]): "dir" for depth in range(1, len(inside) + 1)},
                              hostdir="link %s" % host, **{"/".join(inside + ("planted",)): "file p"})
    assert tree(host) == {"keep": "file host file"}, "nothing written, nothing removed on the host"


def test_a_file_over_an_image_symlink_replaces_the_link_and_never_writes_through_it(tmp_path):
    (tmp_path / "host.txt").write_text("host")
    root, _ = unpack(tmp_path, [[link("f", str(tmp_path / "host.txt"))], [f("f", b"image")]])
    assert tree(root) == {"f": "file image"}
    assert (tmp_path / "host.txt").read_text() == "host"


def test_a_symlink_that_climbs_out_of_the_root_is_refused_and_nothing_is_written_outside(tmp_path):
    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    image, root, message = refusal(deep, [[link("up", "../../../../.."), f("up/x", b"x")]])
    assert message == "--image %s: layer 1 (%s): 'up' leads outside the tree" % (image.layout, image.digest(1))
    assert tree(root) == {"up": "link ../../../../.."}
    assert sorted(os.listdir(tmp_path)) == ["a"] and not (deep / "x").exists()


@pytest.mark.parametrize("name", ["../x", "a/../../x", "ok/.."])
def test_a_name_with_dotdot_is_refused_before_anything_of_its_layer_is_written(tmp_path, name):
    image, root, message = refusal(tmp_path, [[f("first", b"1")], [f("ok", b"ok"), f(name, b"x")]])
    assert message == "--image %s: layer 2 (%s): a layer entry %r has '..' in its path" % (
        image.layout, image.digest(2), name)
    assert tree(root) == {"first": "file 1"}
    assert sorted(os.listdir(tmp_path)) == ["layout", "root"]


def test_a_symlink_with_an_empty_target_is_refused(tmp_path):
    image, _, message = refusal(tmp_path, [[link("s", "")]])
    assert message == "--image %s: layer 1 (%s): 's' is a symlink with an empty target" % (
        image.layout, image.digest(1))


# -- hard links ---------------------------------------------------------------------------------

def test_a_hard_link_to_a_file_of_the_image_shares_its_inode(tmp_path):
    root, _ = unpack(tmp_path, [[d("bin/"), f("bin/real", b"program", 0o755)],
                                [link("bin/alias", "bin/real", tarfile.LNKTYPE)]])
    real, alias = (root / "bin" / "real").stat(), (root / "bin" / "alias").stat()
    assert (alias.st_ino, alias.st_nlink) == (real.st_ino, 2)
    assert (root / "bin" / "alias").read_bytes() == b"program"


@pytest.mark.parametrize("target", ["/etc/passwd", "hostetc/passwd", "HOST"])
def test_a_hard_link_to_a_host_file_is_refused(tmp_path, target):
    secret = tmp_path / "secret"
    secret.write_text("mine")
    target = str(secret) if target == "HOST" else target
    links_before = os.stat("/etc/passwd").st_nlink
    image, root, message = refusal(tmp_path, [[link("hostetc", "/etc"), link("pw", target, tarfile.LNKTYPE)]])
    assert message == "--image %s: layer 1 (%s): 'pw' is a hard link to %r, which is not a file of the image" % (
        image.layout, image.digest(1), target)
    assert not os.path.lexists(root / "pw")
    assert os.stat("/etc/passwd").st_nlink == links_before and secret.stat().st_nlink == 1


def test_a_hard_link_to_a_directory_of_the_image_is_refused(tmp_path):
    image, _, message = refusal(tmp_path, [[d("dir/"), link("pw", "dir", tarfile.LNKTYPE)]])
    assert message == "--image %s: layer 1 (%s): 'pw' is a hard link to 'dir', which is not a file of the image" % (
        image.layout, image.digest(1))


# -- modes and special files ----------------------------------------------------------------------

def test_setuid_and_setgid_bits_are_dropped_and_the_sticky_tmp_kept(tmp_path):
    root, _ = unpack(tmp_path, [[d("bin/"), f("bin/su", b"su", 0o4755), f("bin/sg", b"sg", 0o2711),
                                 d("shared/", 0o2775), d("tmp/", 0o1777), f("plain", b"p", 0o640)]])
    modes = {name: stat.S_IMODE((root / name).stat().st_mode)
             for name in ("bin/su", "bin/sg", "shared", "tmp", "plain")}
    assert modes == {"bin/su": 0o755, "bin/sg": 0o711, "shared": 0o775, "tmp": 0o1777, "plain": 0o640}
    assert all(mode & 0o6000 == 0 for mode in modes.values())


def test_device_nodes_and_fifos_are_skipped(tmp_path):
    root, _ = unpack(tmp_path, [[special("dev/null", tarfile.CHRTYPE), special("dev/sda", tarfile.BLKTYPE),
                                 d("run/"), special("run/fifo", tarfile.FIFOTYPE), f("run/ok", b"ok")]])
    assert tree(root) == {"run": "dir", "run/ok": "file ok"}


# -- the 10 GB limit --------------------------------------------------------------------------------

def sparse_layers(layout: Path, sizes: Sequence[int]) -> List[Dict[str, object]]:
    """Uncompressed layers whose blobs are sparse files of ``sizes`` bytes (nothing real is written)."""
    descriptors = []
    for number, size in enumerate(sizes):
        digest = "sha256:" + ("%02x" % number) * 32   # never checked: the sizes refuse them first
        path = layout / "blobs" / "sha256" / digest[7:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.truncate(path, size)
        descriptors.append({"mediaType": OCI_LAYER_TAR, "digest": digest, "size": size})
    return descriptors


@pytest.mark.parametrize("sizes", [[IMAGE_LIMIT + 1], [IMAGE_LIMIT // 2 + 1, IMAGE_LIMIT // 2 + 1]])
def test_layers_stored_over_10_gb_are_refused_before_they_are_read(tmp_path, sizes):
    layout = tmp_path / "layout"
    write_image(layout, sparse_layers(layout, sizes), ["sha256:" + "ab" * 32] * len(sizes))
    assert [(layout / "blobs" / "sha256" / name).stat().st_blocks for name in os.listdir(layout / "blobs" / "sha256")
            if (layout / "blobs" / "sha256" / name).stat().st_size > 1 << 20] == [0] * len(sizes), "sparse"
    (tmp_path / "root").mkdir()
    with pytest.raises(UnsafeImage) as caught:
        unpack_image(layout, tmp_path / "root", tmp_path / "scratch", ARCH)
    assert str(caught.value) == "--image %s: its layers hold %s as stored, over Lambda's %s limit" % (
        layout, megabytes(sum(sizes)), megabytes(IMAGE_LIMIT))
    assert os.listdir(tmp_path / "root") == []


# -- the image as a whole: config, architecture, index ------------------------------------------------

RUN = {"Entrypoint": ["/opt/bootstrap", "--flag"], "Cmd": ["handler.main"], "WorkingDir": "/var/task",
       "Env": ["PATH=/usr/local/bin:/usr/bin", "A=b=c", "EMPTY=", "NOEQUALS", "=novalue", 7]}
CONFIG = ImageConfig(["/opt/bootstrap", "--flag"], ["handler.main"],
                     {"PATH": "/usr/local/bin:/usr/bin", "A": "b=c", "EMPTY": ""}, "/var/task", GOARCH)


def test_unpack_image_returns_the_config_of_the_image(tmp_path):
    root, config = unpack(tmp_path, [[f("opt/bootstrap", b"#!/bin/sh\n", 0o755)]], run=RUN)
    assert config == CONFIG
    assert tree(root) == {"opt": "dir", "opt/bootstrap": "file #!/bin/sh\n"}


def test_unpack_image_reads_an_oci_archive_too(tmp_path):
    image = make_image(tmp_path / "layout", [[f("opt/bootstrap", b"run", 0o755)]], run=RUN)
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(image.layout.rglob("*")):
            tar.add(path, arcname=path.relative_to(image.layout).as_posix(), recursive=False)
    (tmp_path / "root").mkdir()
    assert unpack_image(archive, tmp_path / "root", tmp_path / "scratch", ARCH) == CONFIG
    assert tree(tmp_path / "root") == {"opt": "dir", "opt/bootstrap": "file run"}


def test_a_relative_or_missing_working_dir_is_slash_and_missing_lists_are_empty(tmp_path):
    _, config = unpack(tmp_path, [[f("a", b"a")]], run={"WorkingDir": "var/task", "Entrypoint": "/bin/sh"})
    assert config == ImageConfig([], [], {}, "/", GOARCH)


def test_an_image_for_another_architecture_is_refused(tmp_path):
    image, root, message = refusal(tmp_path, [[f("a", b"a")]], arch=OTHER_GOARCH)
    assert message == ("--image %s is for linux/%s, not linux/%s (--arch %s): every layer of an image runs on one "
                       "architecture" % (image.layout, OTHER_GOARCH, GOARCH, ARCH))
    assert os.listdir(root) == []


def test_an_index_given_as_the_image_is_refused(tmp_path):
    image, root, message = refusal(tmp_path, [[f("a", b"a")]], entry_type=OCI_INDEX)
    assert message == (
        "--image %s: it is an image index (a multi-architecture list), not an image: Lambda takes one image "
        "manifest; export one architecture (skopeo copy --override-arch %s docker://IMAGE oci-archive:base.tar)"
        % (image.layout, GOARCH))
    assert os.listdir(root) == []


def test_a_layer_that_does_not_match_its_digest_is_refused_before_anything_is_written(tmp_path):
    image = make_image(tmp_path / "layout", [[f("a", b"a")], [f("b", b"b")]])
    blob = image.layout / "blobs" / "sha256" / str(image.layers[1]["digest"])[7:]
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))
    (tmp_path / "root").mkdir()
    with pytest.raises(UnsafeImage) as caught:
        unpack_image(image.layout, tmp_path / "root", tmp_path / "scratch", ARCH)
    assert str(caught.value) == "%s does not match its digest %s" % (blob, image.layers[1]["digest"])
    assert os.listdir(tmp_path / "root") == []
