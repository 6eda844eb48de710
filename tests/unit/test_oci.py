"""oci (packaging/oci.py): reproducible layers, the layout and archive it writes, and the checks that
open_base, verify_layer and base_has_executable make on base images built here by hand."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest
from hand_made_images import Member, put, sha256, tar_of

from bootstrap_sdk.packaging import oci
from bootstrap_sdk.packaging.oci import (DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG,
                                         OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST, REF_NAME, Blob,
                                         ImageError)

EPOCH = 1700000000
ARCH = "x86_64"     # what open_base is asked for; the configs below say amd64


# -- images made by hand (tarfile, gzip, json, hashlib: nothing of oci.py) -------------------

def entry(name: str, data: bytes = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE,
          linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, linkname, 1
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def d(name: str, mode: int = 0o755) -> Member:
    return entry(name, mode=mode, kind=tarfile.DIRTYPE)


class Layer(NamedTuple):
    media_type: str
    stored: bytes   # the blob's bytes
    raw: bytes      # the uncompressed tar


def gz_layer(members: Sequence[Member], media_type: str = OCI_LAYER_GZIP) -> Layer:
    raw = tar_of(members)
    return Layer(media_type, gzip.compress(raw, mtime=0), raw)


def tar_layer(members: Sequence[Member]) -> Layer:
    raw = tar_of(members)
    return Layer(OCI_LAYER_TAR, raw, raw)


def put_json(layout: Path, value: object, media_type: str, name: Optional[str] = None) -> Dict[str, object]:
    return put(layout, json.dumps(value, indent=1).encode(), media_type, name)


def write_index(layout: Path, manifests: List[Dict[str, object]]) -> None:
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                   "manifests": manifests}))


class Image(NamedTuple):
    layout: Path
    entry: Dict[str, object]      # the index's descriptor of the manifest
    manifest: Dict[str, object]
    config: Dict[str, object]
    layers: List[Dict[str, object]]


def make_image(layout: Path, layers: Sequence[Layer], arch: str = "amd64", os_name: str = "linux",
               manifest_type: str = OCI_MANIFEST, config_type: str = OCI_CONFIG,
               diff_ids: Optional[List[str]] = None) -> Image:
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descriptors = [put(layout, layer.stored, layer.media_type) for layer in layers]
    config: Dict[str, object] = {"architecture": arch, "os": os_name, "config": {"Entrypoint": ["/opt/bootstrap"]},
              "rootfs": {"type": "layers", "diff_ids": [sha256(layer.raw) for layer in layers]
                         if diff_ids is None else diff_ids}}
    manifest = {"schemaVersion": 2, "mediaType": manifest_type, "config": put_json(layout, config, config_type),
                "layers": descriptors}
    index_entry = put_json(layout, manifest, manifest_type)
    write_index(layout, [index_entry])
    return Image(layout, index_entry, manifest, config, descriptors)


def with_manifest(image: Image, manifest: Dict[str, object], name: Optional[str] = None) -> Dict[str, object]:
    """``image``'s index pointed at another manifest; its descriptor."""
    index_entry = put_json(image.layout, manifest, str(manifest.get("mediaType", OCI_MANIFEST)), name)
    write_index(image.layout, [index_entry])
    return index_entry


def archive_of(layout: Path, output: Path, prefix: str = "", before: Sequence[Member] = (),
               after: Sequence[Member] = ()) -> Path:
    """``layout`` as an oci-archive tar, with ``before`` and ``after`` members around its own."""
    with tarfile.open(output, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in before:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
        for path in sorted(layout.rglob("*")):
            archive.add(path, arcname=prefix + path.relative_to(layout).as_posix(), recursive=False)
        for info, data in after:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return output


def problems(source: Path, scratch: Path, arch: str = ARCH) -> List[str]:
    with pytest.raises(ImageError) as caught:
        oci.open_base(source, scratch, arch)
    return caught.value.problems


def files_under(top: Path) -> List[str]:
    return sorted(path.relative_to(top).as_posix() for path in top.rglob("*"))


def simple_image(layout: Path) -> Image:
    return make_image(layout, [gz_layer([d("usr/"), d("usr/bin/"), entry("usr/bin/app", b"#!/bin/sh\n", 0o755)]),
                               tar_layer([d("etc/"), entry("etc/conf", b"a=1\n")])])


# -- write_layer: the same tree gives the same bytes ------------------------------------------

def source_tree(top: Path) -> Path:
    (top / "bin").mkdir(parents=True)
    (top / "sub").mkdir()
    (top / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    (top / "data.txt").write_bytes(b"data\n")
    (top / "sub" / "deep.txt").write_bytes(b"deep\n")
    (top / "Zed").write_bytes(b"Z")
    (top / "bin" / "tool").chmod(0o700)
    (top / "data.txt").chmod(0o600)
    (top / "sub" / "deep.txt").chmod(0o640)
    (top / "sub").chmod(0o700)
    os.symlink("data.txt", top / "link")
    os.symlink("sub", top / "linkdir")
    return top


def test_tree_entries_lists_the_leading_directories_then_the_tree_sorted_without_entering_dir_symlinks(tmp_path):
    top = source_tree(tmp_path / "src")
    assert oci.tree_entries(top, "/opt/pkg/") == [
        ("opt/", Path()), ("opt/pkg/", top), ("opt/pkg/Zed", top / "Zed"), ("opt/pkg/bin/", top / "bin"),
        ("opt/pkg/bin/tool", top / "bin" / "tool"), ("opt/pkg/data.txt", top / "data.txt"),
        ("opt/pkg/link", top / "link"), ("opt/pkg/linkdir", top / "linkdir"), ("opt/pkg/sub/", top / "sub"),
        ("opt/pkg/sub/deep.txt", top / "sub" / "deep.txt")]


def test_write_layer_twice_gives_identical_bytes_and_digests_whatever_the_files_times(tmp_path):
    top = source_tree(tmp_path / "src")
    entries = oci.tree_entries(top, "opt/pkg") + [("tmp/", Path())]
    first = oci.write_layer(entries, tmp_path / "one", EPOCH)
    for path in (top / "data.txt", top / "bin" / "tool", top / "sub"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = oci.write_layer(entries, tmp_path / "two", EPOCH)
    one, two = first.path.read_bytes(), second.path.read_bytes()
    assert one == two
    assert first.digest == second.digest == sha256(one)
    assert first.diff_id == second.diff_id == sha256(gzip.decompress(one))
    assert (first.size, first.unpacked_size) == (len(one), len(gzip.decompress(one)))
    assert first.media_type == OCI_LAYER_GZIP
    assert first.path == tmp_path / "one" / first.digest[len("sha256:"):]
    assert os.listdir(tmp_path / "one") == [first.path.name], "no temporary file is left beside the blob"


def test_write_layer_headers_are_sorted_owned_by_0_at_the_epoch_with_fixed_modes(tmp_path):
    top = source_tree(tmp_path / "src")
    (top / ("n" * 120)).write_bytes(b"long")
    blob = oci.write_layer(oci.tree_entries(top, "opt/pkg") + [("tmp/", Path())], tmp_path / "blobs", EPOCH)
    with tarfile.open(blob.path, "r:gz") as archive:
        members = archive.getmembers()
        contents = {m.name: archive.extractfile(m).read() for m in members if m.isreg()}
    kinds = {m.name: ("dir" if m.isdir() else "link " + m.linkname if m.issym() else "file", oct(m.mode))
             for m in members}
    assert kinds == {
        "opt": ("dir", "0o755"), "opt/pkg": ("dir", "0o755"), "opt/pkg/Zed": ("file", "0o644"),
        "opt/pkg/bin": ("dir", "0o755"), "opt/pkg/bin/tool": ("file", "0o755"), "opt/pkg/data.txt": ("file", "0o644"),
        "opt/pkg/link": ("link data.txt", "0o777"), "opt/pkg/linkdir": ("link sub", "0o777"),
        "opt/pkg/" + "n" * 120: ("file", "0o644"), "opt/pkg/sub": ("dir", "0o755"),
        "opt/pkg/sub/deep.txt": ("file", "0o644"), "tmp": ("dir", "0o1777")}
    assert [m.name for m in members][:-1] == sorted(m.name for m in members[:-1]) and members[-1].name == "tmp"
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", EPOCH)}
    assert contents == {"opt/pkg/Zed": b"Z", "opt/pkg/bin/tool": b"#!/bin/sh\necho tool\n",
                        "opt/pkg/data.txt": b"data\n", "opt/pkg/sub/deep.txt": b"deep\n",
                        "opt/pkg/" + "n" * 120: b"long"}
    assert {m.name: m.pax_headers for m in members if m.pax_headers} == {
        "opt/pkg/" + "n" * 120: {"path": "opt/pkg/" + "n" * 120}}, "a PAX header only where a name needs one"


def test_write_layer_gzip_header_has_no_timestamp_and_no_file_name(tmp_path):
    top = source_tree(tmp_path / "src")
    data = oci.write_layer(oci.tree_entries(top, "opt"), tmp_path / "blobs", EPOCH).path.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08", "gzip, deflate"
    assert data[3] == 0, "flags: no FNAME (0x08), no FCOMMENT, no FEXTRA"
    assert data[4:8] == b"\x00\x00\x00\x00", "MTIME is 0"


def test_write_layer_refuses_a_fifo_in_the_tree_and_leaves_no_partial_blob(tmp_path):
    top = source_tree(tmp_path / "src")
    os.mkfifo(top / "pipe")
    with pytest.raises(ImageError) as caught:
        oci.write_layer(oci.tree_entries(top, "opt"), tmp_path / "blobs", EPOCH)
    assert caught.value.problems == ["%s is a FIFO: a layer holds only files, directories and symlinks"
                                     % (top / "pipe")]
    assert os.listdir(tmp_path / "blobs") == []


def test_json_blob_is_canonical_json_stored_under_its_digest(tmp_path):
    blob = oci.json_blob({"b": [1, 2], "a": "\u00e9"}, OCI_CONFIG, tmp_path / "blobs")
    data = '{"a":"\u00e9","b":[1,2]}'.encode()
    assert blob == Blob(OCI_CONFIG, sha256(data), len(data), tmp_path / "blobs" / hashlib.sha256(data).hexdigest())
    assert blob.path.read_bytes() == data


# -- write_layout and write_archive ------------------------------------------------------------

def written_image(tmp_path: Path) -> Tuple[Path, Blob, Blob, Dict[str, object]]:
    layout = tmp_path / "layout"
    blobs = layout / "blobs" / "sha256"
    layer = oci.write_layer(oci.tree_entries(source_tree(tmp_path / "src"), "opt"), blobs, EPOCH)
    config_value: Dict[str, object] = {"architecture": "amd64", "os": "linux",
                                       "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}
    config = oci.json_blob(config_value, OCI_CONFIG, blobs)
    manifest = oci.json_blob({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
                              "layers": [layer.descriptor()]}, OCI_MANIFEST, blobs)
    oci.write_layout(layout, manifest, "fn:latest")
    return layout, layer, manifest, config_value


def test_write_layout_index_names_its_one_manifest_as_an_image_manifest_not_an_index(tmp_path):
    layout, layer, manifest, config = written_image(tmp_path)
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((layout / "index.json").read_text()) == {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": manifest.digest, "size": manifest.size,
                       "annotations": {REF_NAME: "fn:latest"}}]}
    base = oci.open_base(layout, tmp_path / "scratch", ARCH)
    assert base.config == config
    assert base.layers == [Blob(OCI_LAYER_GZIP, layer.digest, layer.size, layer.path, layer.diff_id)]


def test_write_archive_is_reproducible_and_open_base_reads_it(tmp_path):
    layout, layer, manifest, config = written_image(tmp_path)
    oci.write_archive(layout, tmp_path / "one.tar", EPOCH)
    oci.write_archive(layout, tmp_path / "two.tar", EPOCH)
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    assert not (tmp_path / "one.tar.partial").exists()
    with tarfile.open(tmp_path / "one.tar") as archive:
        members = archive.getmembers()
    hexes = sorted(name for name in os.listdir(layout / "blobs" / "sha256"))
    assert [m.name for m in members] == (["blobs", "blobs/sha256"] + ["blobs/sha256/" + h for h in hexes]
                                         + ["index.json", "oci-layout"])
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, EPOCH)}
    scratch = tmp_path / "scratch"
    base = oci.open_base(tmp_path / "one.tar", scratch, ARCH)
    assert base.where == "--base %s" % (tmp_path / "one.tar")
    assert base.config == config
    assert base.layers == [Blob(OCI_LAYER_GZIP, layer.digest, layer.size,
                                scratch / "base" / "blobs" / "sha256" / layer.path.name, layer.diff_id)]
    assert base.layers[0].path.read_bytes() == layer.path.read_bytes()


# -- open_base: good bases ---------------------------------------------------------------------

def test_open_base_reads_a_hand_made_layout_and_maps_docker_media_types(tmp_path):
    first = gz_layer([d("usr/"), entry("usr/app", b"app", 0o755)], DOCKER_LAYER_GZIP)
    second = tar_layer([entry("etc", b"x")])._replace(media_type="application/vnd.docker.image.rootfs.diff.tar")
    image = make_image(tmp_path / "layout", [first, second], manifest_type=DOCKER_MANIFEST, config_type=DOCKER_CONFIG)
    base = oci.open_base(image.layout, tmp_path / "scratch", ARCH)
    blobs = image.layout / "blobs" / "sha256"
    assert base == oci.Base(image.config, [
        Blob(OCI_LAYER_GZIP, sha256(first.stored), len(first.stored), blobs / sha256(first.stored)[7:],
             sha256(first.raw)),
        Blob(OCI_LAYER_TAR, sha256(second.stored), len(second.stored), blobs / sha256(second.stored)[7:],
             sha256(second.raw))], "--base %s" % image.layout)
    assert not (tmp_path / "scratch").exists(), "a layout directory is read where it is"


@pytest.mark.parametrize("prefix", ["", "./"])
def test_open_base_reads_the_same_layout_as_an_oci_archive(tmp_path, prefix):
    image = simple_image(tmp_path / "layout")
    archive = archive_of(image.layout, tmp_path / "base.tar", prefix)
    base = oci.open_base(archive, tmp_path / "scratch", ARCH)
    blobs = tmp_path / "scratch" / "base" / "blobs" / "sha256"
    assert base.config == image.config
    assert [(b.media_type, b.digest, b.size, b.path) for b in base.layers] == [
        (str(desc["mediaType"]), desc["digest"], desc["size"], blobs / str(desc["digest"])[7:])
        for desc in image.layers]
    assert [b.diff_id for b in base.layers] == image.config["rootfs"]["diff_ids"]


# -- open_base: what it refuses ----------------------------------------------------------------

def test_open_base_refuses_an_index_naming_more_or_fewer_than_one_manifest(tmp_path):
    image = simple_image(tmp_path / "layout")
    advice = ("; a base must be exactly one (export one architecture: skopeo copy --override-arch amd64 "
              "docker://IMAGE oci-archive:base.tar)")
    write_index(image.layout, [image.entry, image.entry])
    assert problems(image.layout, tmp_path) == ["--base %s: its index.json names 2 images%s" % (image.layout, advice)]
    write_index(image.layout, [])
    assert problems(image.layout, tmp_path) == ["--base %s: its index.json names 0 images%s" % (image.layout, advice)]


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_open_base_refuses_an_index_entry_that_is_itself_an_index(tmp_path, media_type):
    image = simple_image(tmp_path / "layout")
    write_index(image.layout, [dict(image.entry, mediaType=media_type)])
    assert problems(image.layout, tmp_path, "arm64") == [
        "--base %s: it is an image index (a multi-architecture list), not an image: Lambda takes one image "
        "manifest; export one architecture (skopeo copy --override-arch arm64 docker://IMAGE oci-archive:base.tar)"
        % image.layout]


@pytest.mark.parametrize("entry_type, blob", [
    (OCI_MANIFEST, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
    (None, {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": []}),
    (OCI_MANIFEST, {"schemaVersion": 2, "manifests": []})])
def test_open_base_refuses_a_manifest_blob_that_is_an_index(tmp_path, entry_type, blob):
    image = simple_image(tmp_path / "layout")
    index_entry = put_json(image.layout, blob, entry_type or "")
    if entry_type is None:
        del index_entry["mediaType"]
    write_index(image.layout, [index_entry])
    assert problems(image.layout, tmp_path) == [
        "--base %s: its manifest is an image index (a multi-architecture list), not an image: export one "
        "architecture (skopeo copy --override-arch amd64 docker://IMAGE oci-archive:base.tar)" % image.layout]


def test_open_base_refuses_a_manifest_of_another_media_type(tmp_path):
    image = simple_image(tmp_path / "layout")
    with_manifest(image, dict(image.manifest, mediaType="application/vnd.docker.distribution.manifest.v1+json"))
    assert problems(image.layout, tmp_path) == [
        "--base %s: its manifest's media type is 'application/vnd.docker.distribution.manifest.v1+json', not an "
        "OCI or Docker v2 image manifest" % image.layout]


def test_open_base_refuses_a_missing_blob(tmp_path):
    image = simple_image(tmp_path / "layout")
    layer = str(image.layers[1]["digest"])
    (image.layout / "blobs" / "sha256" / layer[7:]).unlink()
    assert problems(image.layout, tmp_path) == ["%s: layer 2's blob %s is missing" % (image.layout, layer)]
    (image.layout / "blobs" / "sha256" / str(image.entry["digest"])[7:]).unlink()
    assert problems(image.layout, tmp_path) == [
        "%s: the index's manifest's blob %s is missing" % (image.layout, image.entry["digest"])]


def test_open_base_refuses_a_blob_whose_size_is_not_its_descriptors(tmp_path):
    image = simple_image(tmp_path / "layout")
    size = int(image.entry["size"])
    write_index(image.layout, [dict(image.entry, size=size + 1)])
    assert problems(image.layout, tmp_path) == [
        "%s: the index's manifest's blob %s holds %d bytes, its descriptor says %d"
        % (image.layout, image.entry["digest"], size, size + 1)]
    layers = [image.layers[0], dict(image.layers[1], size=3)]
    with_manifest(image, dict(image.manifest, layers=layers))
    assert problems(image.layout, tmp_path) == [
        "%s: layer 2's blob %s holds %d bytes, its descriptor says 3"
        % (image.layout, image.layers[1]["digest"], image.layers[1]["size"])]


@pytest.mark.parametrize("digest", ["sha512:" + "a" * 128, "sha256:" + "A" * 64, "sha256:" + "a" * 63,
                                    "sha256:../../../../etc/passwd", "a" * 64, 7, None])
def test_open_base_refuses_a_digest_that_is_not_sha256_and_64_lowercase_hex_digits(tmp_path, digest):
    image = simple_image(tmp_path / "layout")
    write_index(image.layout, [dict(image.entry, digest=digest)])
    assert problems(image.layout, tmp_path) == [
        "%s: the index's manifest has the digest %r: expected sha256: and 64 hex digits" % (image.layout, digest)]
    write_index(image.layout, [image.entry])
    with_manifest(image, dict(image.manifest, config=dict(image.manifest["config"], digest=digest)))
    assert problems(image.layout, tmp_path) == [
        "%s: the config has the digest %r: expected sha256: and 64 hex digits" % (image.layout, digest)]


def test_open_base_refuses_a_manifest_or_config_that_does_not_match_its_digest(tmp_path):
    image = simple_image(tmp_path / "layout")
    wrong = "sha256:" + "0" * 64
    with_manifest(image, image.manifest, name="0" * 64)
    assert problems(image.layout, tmp_path) == ["--base %s: the manifest does not match its digest %s"
                                                % (image.layout, wrong)]
    config = put_json(image.layout, image.config, OCI_CONFIG, name="f" * 64)
    with_manifest(image, dict(image.manifest, config=config))
    assert problems(image.layout, tmp_path) == ["--base %s: the config does not match its digest sha256:%s"
                                                % (image.layout, "f" * 64)]


@pytest.mark.parametrize("media_type", ["application/vnd.oci.image.layer.v1.tar+zstd",
                                        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", None])
def test_open_base_refuses_a_layer_that_is_not_a_plain_or_gzip_tar(tmp_path, media_type):
    image = simple_image(tmp_path / "layout")
    with_manifest(image, dict(image.manifest, layers=[dict(image.layers[0], mediaType=media_type), image.layers[1]]))
    assert problems(image.layout, tmp_path) == [
        "--base %s: layer 1 has the media type %r: a layer must be a tar, plain or gzip (not zstd, not a foreign "
        "layer)" % (image.layout, media_type)]


@pytest.mark.parametrize("arch, os_name", [("arm64", "linux"), ("amd64", "windows"), (None, None)])
def test_open_base_refuses_a_config_for_another_architecture_or_os(tmp_path, arch, os_name):
    image = make_image(tmp_path / "layout", [gz_layer([entry("a", b"a")])], arch=arch, os_name=os_name)
    assert problems(image.layout, tmp_path) == [
        "--base %s is for %s/%s, not linux/amd64 (--arch x86_64): every layer of an image runs on one architecture"
        % (image.layout, os_name, arch)]
    if arch == "arm64":
        assert oci.open_base(image.layout, tmp_path, "arm64").config["architecture"] == "arm64"


def test_open_base_refuses_diff_ids_that_do_not_count_the_layers(tmp_path):
    layers = [gz_layer([entry("a", b"a")]), gz_layer([entry("b", b"b")])]
    image = make_image(tmp_path / "layout", layers, diff_ids=[sha256(layers[0].raw)])
    assert problems(image.layout, tmp_path) == [
        "--base %s: the config's rootfs.diff_ids do not match the manifest's 2 layers" % image.layout]


def test_open_base_refuses_a_blob_that_is_a_symlink_without_reading_through_it(tmp_path):
    image = simple_image(tmp_path / "layout")
    config = image.layout / "blobs" / "sha256" / str(image.manifest["config"]["digest"])[7:]
    config.unlink()
    config.symlink_to("/etc/passwd")
    assert problems(image.layout, tmp_path) == ["%s: the config's blob %s is not a regular file"
                                                % (image.layout, image.manifest["config"]["digest"])]


def test_open_base_refuses_what_is_not_a_layout(tmp_path):
    (tmp_path / "empty").mkdir()
    assert problems(tmp_path / "empty", tmp_path) == [
        "%s: index.json cannot be read: No such file or directory" % (tmp_path / "empty" / "index.json")]
    assert problems(tmp_path / "absent", tmp_path) == ["--base %s: no such file or directory" % (tmp_path / "absent")]
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar" * 100)
    found = problems(tmp_path / "junk.tar", tmp_path / "scratch")
    assert len(found) == 1 and found[0].startswith("--base %s: not a readable oci-archive (" % (tmp_path / "junk.tar"))


# -- open_base: a hostile oci-archive ----------------------------------------------------------

def test_an_oci_archive_writes_only_the_layout_files_and_nothing_outside_scratch(tmp_path):
    image = simple_image(tmp_path / "made" / "layout")
    outside = "/etc/oci-test-evil-%d" % os.getpid()
    hostile = [entry("../evil", b"evil"), entry(outside, b"evil"), entry("blobs/sha256/notahash", b"evil"),
               entry("blobs/sha256/" + "A" * 64, b"evil"), entry("blobs/sha256/" + "a" * 63, b"evil"),
               entry("blobs/sha256/../../../evil2", b"evil"), entry("blobs/sha512/" + "a" * 128, b"evil"),
               d("extra/"), entry("extra/evil3", b"evil"), entry("oci-layout.bak", b"evil"),
               entry("blobs/sha256/" + "b" * 64, kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
               entry("blobs/sha256/" + "c" * 64, kind=tarfile.LNKTYPE, linkname="../evil")]
    symlink_index = [entry("index.json", kind=tarfile.SYMTYPE, linkname="/etc/passwd")]
    archive = archive_of(image.layout, tmp_path / "made" / "base.tar", before=hostile + symlink_index,
                         after=symlink_index)
    scratch = tmp_path / "work" / "scratch"
    base = oci.open_base(archive, scratch, ARCH)
    assert [layer.digest for layer in base.layers] == [desc["digest"] for desc in image.layers]
    hexes = sorted(str(desc["digest"])[7:] for desc in [image.entry, image.manifest["config"]] + image.layers)
    assert files_under(tmp_path / "work") == (["scratch", "scratch/base", "scratch/base/blobs",
                                               "scratch/base/blobs/sha256"]
                                              + ["scratch/base/blobs/sha256/" + h for h in hexes]
                                              + ["scratch/base/index.json", "scratch/base/oci-layout"])
    index = scratch / "base" / "index.json"
    assert stat.S_ISREG(index.lstat().st_mode) and index.read_bytes() == (image.layout / "index.json").read_bytes()
    assert not any(path.name.startswith("evil") for path in tmp_path.rglob("*"))
    assert not os.path.lexists(outside)


def test_an_oci_archive_holding_a_file_twice_is_refused(tmp_path):
    image = simple_image(tmp_path / "layout")
    archive = archive_of(image.layout, tmp_path / "base.tar", after=[entry("index.json", b"{}")])
    assert problems(archive, tmp_path / "scratch") == [
        "--base %s: the archive holds %s twice" % (archive, tmp_path / "scratch" / "base" / "index.json")]


# -- verify_layer, layer_members, member_parts ---------------------------------------------------

def stored_blob(tmp_path: Path, layer: Layer, digest: Optional[str] = None, diff_id: Optional[str] = None) -> Blob:
    path = tmp_path / "blob"
    path.write_bytes(layer.stored)
    return Blob(layer.media_type, sha256(layer.stored) if digest is None else digest, len(layer.stored), path,
                sha256(layer.raw) if diff_id is None else diff_id)


@pytest.mark.parametrize("make", [gz_layer, tar_layer])
def test_verify_layer_measures_the_uncompressed_tar(tmp_path, make):
    layer = make([d("a/"), entry("a/f", b"x" * 5000)])
    checked = oci.verify_layer(stored_blob(tmp_path, layer, diff_id=""))
    assert (checked.diff_id, checked.unpacked_size) == (sha256(layer.raw), len(layer.raw))


def test_verify_layer_catches_a_diff_id_mismatch(tmp_path):
    wrong = "sha256:" + "0" * 64
    blob = stored_blob(tmp_path, gz_layer([entry("f", b"f")]), diff_id=wrong)
    with pytest.raises(ImageError) as caught:
        oci.verify_layer(blob)
    assert caught.value.problems == ["%s unpacks to a tar that does not match the config's diff_id %s"
                                     % (blob.path, wrong)]


def test_verify_layer_catches_a_digest_mismatch(tmp_path):
    wrong = "sha256:" + "1" * 64
    blob = stored_blob(tmp_path, gz_layer([entry("f", b"f")]), digest=wrong)
    with pytest.raises(ImageError) as caught:
        oci.verify_layer(blob)
    assert caught.value.problems == ["%s does not match its digest %s" % (blob.path, wrong)]


def test_verify_layer_reports_a_damaged_blob_as_a_digest_mismatch_not_as_bad_gzip(tmp_path):
    blob = stored_blob(tmp_path, gz_layer([entry("f", os.urandom(3000))]))
    data = bytearray(blob.path.read_bytes())
    data[-5] ^= 0xFF  # in the gzip trailer's CRC32: the gzip itself is now invalid too
    blob.path.write_bytes(bytes(data))
    with pytest.raises(ImageError) as caught:
        oci.verify_layer(blob)
    assert caught.value.problems == ["%s does not match its digest %s" % (blob.path, blob.digest)]


def test_verify_layer_reads_concatenated_gzip_members_as_one_tar(tmp_path):
    raw = tar_of([entry("f", b"f" * 3000)])
    stored = gzip.compress(raw[:4096], mtime=0) + gzip.compress(raw[4096:], mtime=0)
    blob = stored_blob(tmp_path, Layer(OCI_LAYER_GZIP, stored, raw))
    assert oci.verify_layer(blob).unpacked_size == len(raw)


@pytest.mark.parametrize("stored", [b"not gzip at all", b"", "truncated"])
def test_verify_layer_refuses_a_layer_that_is_not_valid_gzip_even_if_its_diff_id_matches(tmp_path, stored):
    raw = tar_of([entry("f", os.urandom(20000))])
    data = gzip.compress(raw, mtime=0)[:-100] if stored == "truncated" else stored
    partial = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data) if stored != b"not gzip at all" else raw
    blob = stored_blob(tmp_path, Layer(OCI_LAYER_GZIP, data, partial))  # the diff_id of what zlib lets through
    with pytest.raises(ImageError) as caught:
        oci.verify_layer(blob)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("%s: a layer that is not valid gzip (" % blob.path)


def test_layer_members_streams_the_members_with_data_for_files_only(tmp_path):
    blob = stored_blob(tmp_path, gz_layer([d("a/"), entry("a/f", b"hello"), entry("a/l", kind=tarfile.SYMTYPE,
                                                                                  linkname="f")]))
    seen = [(m.name, data.read() if data else None) for m, data in oci.layer_members(blob)]
    assert seen == [("a", None), ("a/f", b"hello"), ("a/l", None)]
    broken = stored_blob(tmp_path, Layer(OCI_LAYER_TAR, b"x" * 1024, b""))
    with pytest.raises(ImageError) as caught:
        list(oci.layer_members(broken))
    assert caught.value.problems[0].startswith("%s: a layer that is not a readable tar (" % broken.path)


def test_member_parts_drops_dots_and_slashes_and_refuses_dotdot_and_nul():
    assert oci.member_parts("./usr//bin/./tool/") == ("usr", "bin", "tool")
    assert oci.member_parts("/etc/x") == ("etc", "x")
    assert oci.member_parts("./") == ()
    for name in ("../x", "a/../../b", "a/.."):
        with pytest.raises(ImageError) as caught:
            oci.member_parts(name)
        assert caught.value.problems == ["a layer entry %r has '..' in its path" % name]
    with pytest.raises(ImageError) as caught:
        oci.member_parts("a\x00b")
    assert caught.value.problems == ["a layer entry's name holds a NUL"]


# -- base_has_executable -----------------------------------------------------------------------

def test_base_has_executable_applies_whiteouts_and_opaque_dirs_across_layers(tmp_path):
    lower = gz_layer([d("usr/"), d("usr/bin/"), entry("usr/bin/tool", b"t", 0o755),
                      entry("usr/bin/private", b"p", 0o750), entry("usr/bin/plain", b"p", 0o644),
                      entry("usr/bin/link", kind=tarfile.SYMTYPE, linkname="tool"),
                      d("usr/lib/"), d("usr/lib/x/"), entry("usr/lib/x/run", b"r", 0o755),
                      d("opt/"), d("opt/app/"), entry("opt/app/run", b"r", 0o755), d("srv/"),
                      entry("srv/keep", b"k", 0o755), entry("srv/later", b"l", 0o644)])
    upper = tar_layer([d("usr/"), d("usr/bin/"), entry("usr/bin/.wh.tool"), d("usr/lib/"), d("usr/lib/x/"),
                       entry("usr/lib/x/new", b"n", 0o755), entry("usr/lib/x/.wh..wh..opq"), entry(".wh.opt"),
                       d("srv/"), entry("srv/later", b"l", 0o755)])
    base = oci.open_base(make_image(tmp_path / "layout", [lower, upper]).layout, tmp_path / "scratch", ARCH)
    found = {path: oci.base_has_executable(base, path) for path in (
        "/usr/bin/tool", "/usr/bin/link", "/usr/bin/private", "/usr/bin/plain", "/usr/lib/x/run", "/usr/lib/x/new",
        "/opt/app/run", "/srv/keep", "/srv/later", "/missing")}
    # link -> tool, which the upper layer whites out: a dangling link runs nothing
    assert found == {"/usr/bin/tool": False, "/usr/bin/link": False, "/usr/bin/private": False,
                     "/usr/bin/plain": False, "/usr/lib/x/run": False, "/usr/lib/x/new": True,
                     "/opt/app/run": False, "/srv/keep": True, "/srv/later": True, "/missing": False}


def test_base_has_executable_sees_a_file_a_later_layer_puts_back_after_a_whiteout(tmp_path):
    layers = [gz_layer([d("bin/"), entry("bin/app", b"1", 0o755)]), gz_layer([d("bin/"), entry("bin/.wh.app")]),
              gz_layer([d("bin/"), entry("bin/app", b"3", 0o755)]), gz_layer([entry(".wh..wh..opq")])]
    base = oci.open_base(make_image(tmp_path / "layout", layers[:3]).layout, tmp_path / "scratch", ARCH)
    assert oci.base_has_executable(base, "/bin/app") is True
    assert oci.base_has_executable(base._replace(layers=base.layers[:2]), "/bin/app") is False
    everything_gone = oci.open_base(make_image(tmp_path / "layout2", layers).layout, tmp_path / "scratch2", ARCH)
    assert oci.base_has_executable(everything_gone, "/bin/app") is False, "an opaque marker at the root"


def test_base_has_executable_counts_a_hard_link_to_an_executable(tmp_path):
    layer = gz_layer([d("bin/"), entry("bin/real", b"r", 0o755),
                      entry("bin/alias", mode=0o755, kind=tarfile.LNKTYPE, linkname="bin/real")])
    base = oci.open_base(make_image(tmp_path / "layout", [layer]).layout, tmp_path / "scratch", ARCH)
    assert oci.base_has_executable(base, "/bin/alias") is True


def test_base_has_executable_follows_symlinks_on_the_way_as_the_images_root_resolves_them(tmp_path):
    """Amazon Linux's merged /usr: /bin -> usr/bin, and an absolute link to the program."""
    layer = gz_layer([d("usr/"), d("usr/bin/"), entry("usr/bin/bash", b"b", 0o755),
                      entry("usr/bin/sh", kind=tarfile.SYMTYPE, linkname="/usr/bin/bash"),
                      entry("bin", kind=tarfile.SYMTYPE, linkname="usr/bin"),
                      entry("sbin", kind=tarfile.SYMTYPE, linkname="../usr/./bin/"),
                      entry("usr/bin/loop", kind=tarfile.SYMTYPE, linkname="loop"),
                      entry("implied/dir/tool", b"t", 0o755)])
    base = oci.open_base(make_image(tmp_path / "layout", [layer]).layout, tmp_path / "scratch", ARCH)
    assert oci.base_has_executable(base, "/bin/sh")
    assert oci.base_has_executable(base, "/sbin/sh")  # '..' above the root stays at the root, as in the kernel
    assert oci.base_has_executable(base, "/implied/dir/tool")  # no directory entries in the tar
    assert not oci.base_has_executable(base, "/usr/bin/loop")
    assert not oci.base_has_executable(base, "/bin")


def test_verify_layers_stops_a_gzip_bomb_at_the_limit_it_shares_between_layers(tmp_path):
    """1 MiB of zeros gzips to ~1 KiB: the check stops reading at the limit, across layers."""
    zeros = gz_layer([entry("zeros", b"\0" * (1 << 20))])
    small = gz_layer([entry("small", b"x")])
    base = oci.open_base(make_image(tmp_path / "layout", [small, zeros]).layout, tmp_path / "scratch", ARCH)
    assert len(zeros.stored) < 4096
    with pytest.raises(ImageError) as caught:
        oci.verify_layers(base.layers, 1 << 20)
    (problem,) = caught.value.problems
    assert "unpacks to more than %d bytes" % ((1 << 20) - len(small.raw)) in problem
    verified = oci.verify_layers(base.layers, 4 << 20)
    assert [layer.unpacked_size for layer in verified] == [len(small.raw), len(zeros.raw)]


def test_open_base_refuses_json_nested_past_any_real_document(tmp_path):
    layout = simple_image(tmp_path / "layout").layout
    (layout / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    (problem,) = problems(layout, tmp_path / "scratch")
    assert problem.startswith("%s: index.json is not JSON" % (layout / "index.json"))


def test_an_oci_archive_with_a_sparse_member_is_refused_before_it_is_expanded(tmp_path):
    layout = simple_image(tmp_path / "layout").layout
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 30)
    archive = tmp_path / "base.tar"
    hexname = "f" * 64
    subprocess.run(["tar", "--sparse", "--format=gnu", "-cf", str(archive), "-C", str(layout), "."], check=True)
    subprocess.run(["tar", "--sparse", "--format=gnu", "-rf", str(archive), "--transform",
                    "s|.*|blobs/sha256/%s|" % hexname, "-C", str(tmp_path), "sparse"], check=True)
    assert archive.stat().st_size < 1 << 20
    (problem,) = problems(archive, tmp_path / "scratch")
    assert problem == "--base %s: blobs/sha256/%s is a sparse member: an oci-archive holds plain files" % (
        archive, hexname)
    assert not (tmp_path / "scratch" / "base" / "blobs" / "sha256" / hexname).exists()
