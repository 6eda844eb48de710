"""OCI images without a daemon: layer tarballs, blobs, the config and manifest, the layout.

What Lambda takes as a function image is one *image manifest* (OCI v1, or Docker v2
schema 2 — never an index or a manifest list), for one architecture, whose layers are
tar archives applied in order (docs/facts.md#packaging). Everything written here is
reproducible: the same tree gives the same tar bytes (sorted entries, one timestamp,
numeric owner 0, explicit modes, PAX headers only where a name needs one), the same gzip
bytes (no name, no timestamp, a fixed level) and so the same digests.

A base image is read from an OCI image layout (a directory) or an ``oci-archive`` (that
directory as a tar file), as ``skopeo copy docker://... oci-archive:base.tar`` writes it.
It is input like any other: its index must name exactly one image manifest, every blob
must match its digest and size, its layers must be tar (plain or gzip), and its
uncompressed size is counted from the layers themselves, never taken on trust.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import IO, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from .zipper import CHUNK, special_file_problem

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# A base layer's media type -> the OCI one it is written under (the bytes are the same).
LAYER_TYPES = {OCI_LAYER_GZIP: OCI_LAYER_GZIP, DOCKER_LAYER_GZIP: OCI_LAYER_GZIP, OCI_LAYER_TAR: OCI_LAYER_TAR,
               "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER_TAR}
IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
GOARCH = {"x86_64": "amd64", "arm64": "arm64"}   # Lambda's names -> OCI's
GZIP_LEVEL = 6
REF_NAME = "org.opencontainers.image.ref.name"
MAX_JSON = 4 << 20  # an index, manifest or config larger than this is not one


class ImageError(Exception):
    """An image input that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Blob(NamedTuple):
    media_type: str
    digest: str      # sha256:<hex> of the bytes as stored
    size: int        # bytes as stored
    path: Path       # where the bytes are now
    diff_id: str = ""       # a layer's sha256 of its uncompressed tar
    unpacked_size: int = 0  # a layer's uncompressed tar size

    def descriptor(self) -> Dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


# -- writing layers ---------------------------------------------------------------------

class _Digesting:
    """A write-only file that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()


def tree_entries(root: Path, under: str) -> List[Tuple[str, Path]]:
    """(name in the image, path on this machine) for ``root``'s tree placed at ``under``
    (``opt``, ``var/task``): the directories leading to it first, then everything sorted."""
    entries: List[Tuple[str, Path]] = []
    parts = under.strip("/").split("/")
    for depth in range(1, len(parts)):
        entries.append(("/".join(parts[:depth]) + "/", Path()))  # Path(): a plain 0755 directory
    entries.append((under.strip("/") + "/", root))
    found: List[Tuple[str, Path]] = []
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        for name in dirs + files:
            path = base / name
            rel = "%s/%s" % (under.strip("/"), path.relative_to(root).as_posix())
            found.append((rel + "/" if path.is_dir() and not path.is_symlink() else rel, path))
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return entries + sorted(found)


def _tar_info(name: str, path: Path, epoch: int) -> Tuple[tarfile.TarInfo, Optional[int]]:
    """The header for one entry (owner 0:0, the fixed time, 0755/0644 as in a layer zip,
    directories 0755, ``tmp/`` 1777), and an open fd of a regular file's bytes."""
    info = tarfile.TarInfo(name.rstrip("/"))
    info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
    if name.endswith("/"):
        info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp/" else 0o755
        return info, None
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
        return info, None
    problem = special_file_problem(str(path), st.st_mode)
    if problem:
        raise ImageError([problem])
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped after the lstat
        os.close(fd)
        raise ImageError(["%s is not a regular file" % path])
    info.type, info.size = tarfile.REGTYPE, st.st_size
    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info, fd


def write_layer(entries: Sequence[Tuple[str, Path]], blobs: Path, epoch: int) -> Blob:
    """One gzip-compressed tar layer of ``entries`` (see ``tree_entries``), stored in
    ``blobs`` under its digest."""
    blobs.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=".layer-", dir=blobs)
    try:
        with os.fdopen(fd, "wb") as out:
            stored = _Digesting(out)
            with gzip.GzipFile(filename="", mode="wb", fileobj=stored, mtime=0,
                               compresslevel=GZIP_LEVEL) as compressed:
                raw = _Digesting(compressed)  # type: ignore[arg-type]
                with tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
                                  encoding="utf-8") as archive:
                    _add_entries(archive, entries, epoch)
        blob = Blob(OCI_LAYER_GZIP, "sha256:" + stored.hash.hexdigest(), stored.size, Path(scratch),
                    "sha256:" + raw.hash.hexdigest(), raw.size)
        return store(blob, blobs)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def store(blob: Blob, blobs: Path) -> Blob:
    """Move (or copy, for a base's blob) ``blob`` to ``blobs/<hex>``."""
    target = blobs / blob.digest.split(":", 1)[1]
    if blob.path.parent == blobs and blob.path.name.startswith("."):
        os.replace(blob.path, target)
    elif blob.path != target:
        shutil.copyfile(blob.path, target)
    return blob._replace(path=target)


def json_blob(value: object, media_type: str, blobs: Path) -> Blob:
    """A config or manifest: canonical JSON (sorted keys, no spaces), stored by digest."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs.mkdir(parents=True, exist_ok=True)
    path = blobs / digest.split(":", 1)[1]
    path.write_bytes(data)
    return Blob(media_type, digest, len(data), path)


# -- the layout and the archive ---------------------------------------------------------

def write_layout(directory: Path, manifest: Blob, ref: str) -> None:
    """``oci-layout`` and ``index.json`` over ``directory/blobs/sha256``: the index names
    the one manifest (the layout's own index; what Lambda gets is that manifest)."""
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descriptor = dict(manifest.descriptor(), annotations={REF_NAME: ref})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]}
    (directory / "index.json").write_text(json.dumps(index, sort_keys=True, separators=(",", ":")))


def write_archive(directory: Path, output: Path, epoch: int) -> None:
    """The layout as an ``oci-archive`` tar (what ``skopeo copy oci-archive:FILE`` reads),
    written beside ``output`` and renamed into place."""
    partial = output.with_name(output.name + ".partial")
    entries = [(name[len("./"):], path) for name, path in tree_entries(directory, ".")[1:]]
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            _add_entries(archive, entries, epoch)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, output)


def _add_entries(archive: tarfile.TarFile, entries: Sequence[Tuple[str, Path]], epoch: int) -> None:
    for name, path in entries:
        info, data = _tar_info(name, path, epoch)
        if data is None:
            archive.addfile(info)
            continue
        with os.fdopen(data, "rb") as source:
            archive.addfile(info, source)


# -- reading a base ---------------------------------------------------------------------

class Base(NamedTuple):
    """A base image, checked: its config (as JSON) and its layers, in order."""

    config: Dict[str, object]
    layers: List[Blob]
    where: str


def _read_json(path: Path, what: str, problems: List[str]) -> Optional[Dict[str, object]]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JSON + 1)
    except OSError as exc:
        problems.append("%s: %s cannot be read: %s" % (path, what, exc.strerror or exc))
        return None
    try:
        value = json.loads(data) if len(data) <= MAX_JSON else None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past any real document
        problems.append("%s: %s is not JSON (%s)" % (path, what, exc))
        return None
    if not isinstance(value, dict):
        problems.append("%s: %s is not a JSON object of at most %d bytes" % (path, what, MAX_JSON))
        return None
    return value


def _blob_path(layout: Path, descriptor: object, what: str, problems: List[str]) -> Optional[Tuple[Path, str, int]]:
    """The file a descriptor names, its digest and size, after checking all three."""
    if not isinstance(descriptor, dict):
        problems.append("%s: %s is not a descriptor" % (layout, what))
        return None
    digest, size = descriptor.get("digest"), descriptor.get("size")
    hexpart = digest[len("sha256:"):] if isinstance(digest, str) and digest.startswith("sha256:") else ""
    if len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        problems.append("%s: %s has the digest %r: expected sha256: and 64 hex digits" % (layout, what, digest))
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        problems.append("%s: %s has no valid size" % (layout, what))
        return None
    path = layout / "blobs" / "sha256" / hexpart
    try:
        st = path.lstat()
    except OSError:
        problems.append("%s: %s's blob %s is missing" % (layout, what, digest))
        return None
    if not stat.S_ISREG(st.st_mode):
        problems.append("%s: %s's blob %s is not a regular file" % (layout, what, digest))
        return None
    if st.st_size != size:
        problems.append("%s: %s's blob %s holds %d bytes, its descriptor says %d" % (layout, what, digest,
                                                                                     st.st_size, size))
        return None
    return path, str(digest), size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def layer_chunks(path: Path, media_type: str) -> Iterator[bytes]:
    """A layer's uncompressed tar, in chunks; ImageError if its gzip is damaged."""
    with open(path, "rb") as handle:
        if LAYER_TYPES[media_type] == OCI_LAYER_TAR:
            yield from iter(lambda: handle.read(CHUNK), b"")
            return
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            for block in iter(lambda: handle.read(CHUNK), b""):
                while block:
                    yield inflate.decompress(block, CHUNK)
                    block = inflate.unconsumed_tail
                    if inflate.eof and inflate.unused_data:  # another gzip member follows
                        block, inflate = inflate.unused_data + block, zlib.decompressobj(16 + zlib.MAX_WBITS)
            yield inflate.flush()
            if not inflate.eof:  # zlib is silent about a stream cut short (an empty blob, a truncated one)
                raise zlib.error("it ends before its gzip trailer")
        except zlib.error as exc:
            raise ImageError(["%s: a layer that is not valid gzip (%s)" % (path, exc)]) from None


def open_base(source: Path, scratch: Path, arch: str) -> Base:
    """Read and check a base image: an OCI layout directory, or an oci-archive tar (unpacked
    into ``scratch`` first, with the archive's names checked)."""
    layout = source
    if not source.is_dir():
        if not source.is_file():
            raise ImageError(["--base %s: no such file or directory" % source])
        layout = scratch / "base"
        _unpack_archive(source, layout)
    problems: List[str] = []
    where = "--base %s" % source
    index = _read_json(layout / "index.json", "index.json", problems)
    if index is None:
        raise ImageError(problems or ["%s: no index.json: not an OCI image layout" % where])
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or len(manifests) != 1:
        count = len(manifests) if isinstance(manifests, list) else 0
        raise ImageError(["%s: its index.json names %d images; a base must be exactly one (export one "
                          "architecture: skopeo copy --override-arch %s docker://IMAGE oci-archive:base.tar)"
                          % (where, count, GOARCH.get(arch, arch))])
    entry = manifests[0]
    if isinstance(entry, dict) and entry.get("mediaType") in INDEXES:
        raise ImageError(["%s: it is an image index (a multi-architecture list), not an image: Lambda takes one "
                          "image manifest; export one architecture (skopeo copy --override-arch %s "
                          "docker://IMAGE oci-archive:base.tar)" % (where, GOARCH.get(arch, arch))])
    found = _blob_path(layout, entry, "the index's manifest", problems)
    if found is None:
        raise ImageError(problems)
    manifest = _read_json(found[0], "the manifest", problems)
    if manifest is None:
        raise ImageError(problems)
    kind = manifest.get("mediaType", entry.get("mediaType") if isinstance(entry, dict) else None)
    if kind in INDEXES or "manifests" in manifest:
        raise ImageError(["%s: its manifest is an image index (a multi-architecture list), not an image: export "
                          "one architecture (skopeo copy --override-arch %s docker://IMAGE oci-archive:base.tar)"
                          % (where, GOARCH.get(arch, arch))])
    if kind not in IMAGE_MANIFESTS and kind is not None:
        raise ImageError(["%s: its manifest's media type is %r, not an OCI or Docker v2 image manifest"
                          % (where, kind)])
    if sha256_file(found[0]) != found[1]:
        problems.append("%s: the manifest does not match its digest %s" % (where, found[1]))
    config_found = _blob_path(layout, manifest.get("config"), "the config", problems)
    config = _read_json(config_found[0], "the config", problems) if config_found else None
    if config_found and sha256_file(config_found[0]) != config_found[1]:
        problems.append("%s: the config does not match its digest %s" % (where, config_found[1]))
    layers = _base_layers(layout, manifest, config, where, problems)
    if config is not None:
        base_arch, base_os = config.get("architecture"), config.get("os")
        if base_os != "linux" or base_arch != GOARCH.get(arch):
            problems.append("%s is for %s/%s, not linux/%s (--arch %s): every layer of an image runs on one "
                            "architecture" % (where, base_os, base_arch, GOARCH.get(arch), arch))
    if problems or config is None:
        raise ImageError(problems)
    return Base(config, layers, where)


def _base_layers(layout: Path, manifest: Dict[str, object], config: Optional[Dict[str, object]], where: str,
                 problems: List[str]) -> List[Blob]:
    descriptors = manifest.get("layers")
    if not isinstance(descriptors, list):
        problems.append("%s: the manifest lists no layers" % where)
        return []
    rootfs = config.get("rootfs") if config else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if config is not None and (not isinstance(diff_ids, list) or len(diff_ids) != len(descriptors)):
        problems.append("%s: the config's rootfs.diff_ids do not match the manifest's %d layers"
                        % (where, len(descriptors)))
        diff_ids = None
    layers: List[Blob] = []
    for number, descriptor in enumerate(descriptors, 1):
        what = "layer %d" % number
        media_type = descriptor.get("mediaType") if isinstance(descriptor, dict) else None
        if media_type not in LAYER_TYPES:
            problems.append("%s: %s has the media type %r: a layer must be a tar, plain or gzip (not zstd, not "
                            "a foreign layer)" % (where, what, media_type))
            continue
        found = _blob_path(layout, descriptor, what, problems)
        if found is None:
            continue
        path, digest, size = found
        layers.append(Blob(LAYER_TYPES[media_type], digest, size, path,
                           str(diff_ids[number - 1]) if diff_ids else ""))
    return layers


def verify_layer(blob: Blob, limit: Optional[int] = None) -> Blob:
    """Read a base layer through: its digest and its diff_id checked, its uncompressed
    size measured (the 10 GB limit counts that, never what a descriptor claims). Past
    ``limit`` uncompressed bytes it stops: a small gzip can inflate without end."""
    stored = sha256_file(blob.path)
    if stored != blob.digest:  # not the image's bytes: unpacking them would only report a symptom (bad gzip)
        raise ImageError(["%s does not match its digest %s" % (blob.path, blob.digest)])
    raw = hashlib.sha256()
    size = 0
    for chunk in layer_chunks(blob.path, blob.media_type):
        raw.update(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise ImageError(["%s unpacks to more than %d bytes, past Lambda's 10 GB limit for an image"
                              % (blob.path, limit)])
    if blob.diff_id and "sha256:" + raw.hexdigest() != blob.diff_id:
        raise ImageError(["%s unpacks to a tar that does not match the config's diff_id %s" % (blob.path,
                                                                                                blob.diff_id)])
    return blob._replace(diff_id="sha256:" + raw.hexdigest(), unpacked_size=size)


def verify_layers(layers: Sequence[Blob], limit: int) -> List[Blob]:
    """Every layer verified, all of them together held to ``limit`` uncompressed bytes."""
    verified: List[Blob] = []
    for layer in layers:
        verified.append(verify_layer(layer, limit - sum(done.unpacked_size for done in verified)))
    return verified


def _unpack_archive(archive_path: Path, layout: Path) -> None:
    """An oci-archive's files (only ``oci-layout``, ``index.json`` and ``blobs/sha256/*``,
    regular files, nothing else) into ``layout``."""
    layout.mkdir(parents=True)
    (layout / "blobs" / "sha256").mkdir(parents=True)
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                name = member.name.lstrip("./") if member.name.startswith("./") else member.name
                parts = name.strip("/").split("/")
                if member.isdir() and parts in (["blobs"], ["blobs", "sha256"], [""]):
                    continue
                wanted = parts in (["oci-layout"], ["index.json"]) or (
                    len(parts) == 3 and parts[:2] == ["blobs", "sha256"] and len(parts[2]) == 64
                    and all(c in "0123456789abcdef" for c in parts[2]))
                if not wanted or not member.isfile():
                    continue  # anything else is not part of an image: never written
                if member.issparse():  # its data would expand past what the archive holds
                    raise ImageError(["--base %s: %s is a sparse member: an oci-archive holds plain files"
                                      % (archive_path, member.name)])
                source = archive.extractfile(member)
                assert source is not None
                with source, open(layout.joinpath(*parts), "xb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, FileExistsError):
            raise ImageError(["--base %s: the archive holds %s twice" % (archive_path, exc.filename)]) from None
        raise ImageError(["--base %s: not a readable oci-archive (%s)" % (archive_path, exc)]) from None


# -- reading layers ---------------------------------------------------------------------

class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of chunks (a layer's uncompressed tar)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview") -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def member_parts(name: str) -> Tuple[str, ...]:
    """A layer member's path as components under the image root: ``./``, a leading ``/``
    and empty parts dropped; ImageError for ``..`` or a NUL (no image needs either)."""
    if "\x00" in name:
        raise ImageError(["a layer entry's name holds a NUL"])
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ImageError(["a layer entry %r has '..' in its path" % name])
    return parts


def layer_members(blob: Blob) -> Iterator[Tuple[tarfile.TarInfo, Optional[IO[bytes]]]]:
    """Each member of a layer's tar, with its data (files only), streamed."""
    try:
        with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(layer_chunks(blob.path, blob.media_type)), CHUNK),
                          mode="r|", encoding="utf-8", errors="surrogateescape") as archive:
            for member in archive:
                yield member, archive.extractfile(member) if member.isreg() else None
    except (tarfile.TarError, EOFError) as exc:
        raise ImageError(["%s: a layer that is not a readable tar (%s)" % (blob.path, exc)]) from None


def base_tree(base: Base) -> Dict[Tuple[str, ...], tarfile.TarInfo]:
    """What the base's layers leave, path by path: each layer's whiteouts and opaque
    markers first remove what the layers below put there, then its entries are added."""
    tree: Dict[Tuple[str, ...], tarfile.TarInfo] = {}
    for layer in base.layers:
        added: Dict[Tuple[str, ...], tarfile.TarInfo] = {}
        gone: List[Tuple[str, ...]] = []
        for member, _ in layer_members(layer):
            parts = member_parts(member.name)
            if parts and parts[-1] == OPAQUE:
                gone.append(parts[:-1] + ("",))  # the directory's contents, not the directory
            elif parts and parts[-1].startswith(WHITEOUT):
                gone.append(parts[:-1] + (parts[-1][len(WHITEOUT):],))
            elif parts:
                added[parts] = member
        for prefix in gone:
            if prefix[-1] == "":
                inside = prefix[:-1]
                tree = {k: v for k, v in tree.items() if not (k[:len(inside)] == inside and len(k) > len(inside))}
            else:
                tree = {k: v for k, v in tree.items() if k[:len(prefix)] != prefix}
        tree.update(added)
    return tree


def base_has_executable(base: Base, path: str) -> bool:
    """Whether ``path`` is, in the base's tree, a file everyone may execute; symlinks on the
    way (``/bin -> usr/bin``) are followed as the image's root would resolve them."""
    tree = base_tree(base)
    stack: List[str] = []
    pending = list(reversed(member_parts(path)))
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            stack = stack[:-1]
            continue
        stack.append(part)
        entry = tree.get(tuple(stack))
        if entry is None:
            if pending:
                continue  # a directory a tar implies without an entry of its own
            return False
        if entry.issym():
            hops += 1
            if hops > 40:  # the kernel's own limit (ELOOP)
                return False
            stack = [] if entry.linkname.startswith("/") else stack[:-1]
            pending.extend(reversed([p for p in entry.linkname.split("/") if p not in ("", ".")]))
        elif entry.islnk() and not pending:
            entry = tree.get(member_parts(entry.linkname)) or entry
            return entry.isreg() and entry.mode & 0o111 == 0o111
    final = tree.get(tuple(stack))
    return final is not None and (final.isreg() or final.islnk()) and final.mode & 0o111 == 0o111
