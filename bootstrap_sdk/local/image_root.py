"""An image's root for the sandbox: its layers applied in order, and its config.

``unpack_image`` reads an oci-archive or OCI layout (``packaging.oci``: one image
manifest, never an index; every blob checked against its digest; the architecture
``image_architecture`` read from its config beforehand)
and applies its layers into an empty directory as a container runtime does: each layer's
whiteouts (``.wh.NAME``) and opaque markers (``.wh..wh..opq``) first remove what lower
layers put there, then its entries are written.

It runs as root on images from anywhere, so nothing in a layer is trusted. Entries are
written through directory file descriptors with ``O_NOFOLLOW``: a symlink an image holds
(``/lib64 -> usr/lib64``, or ``/etc -> /``) is followed only as the image's own root would
resolve it, inside the root (``zipper.resolve_inside``), never on the host. Names with
``..`` are refused; hard links must name a file already in the image; setuid and setgid
bits are dropped; device nodes and FIFOs are skipped (the sandbox makes its own /dev);
and the whole unpacks to at most Lambda's 10 GB.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tarfile
import zlib
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..packaging import oci
from ..packaging.checks import IMAGE_LIMIT, megabytes
from ..packaging.zipper import CHUNK, LinkEscape, lstat_at, resolve_inside

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ImageConfig(NamedTuple):
    """What the image's config says about how it runs."""

    entrypoint: List[str]
    cmd: List[str]
    env: Dict[str, str]
    working_dir: str
    architecture: str


class UnsafeImage(Exception):
    pass


def _strings(value: object) -> List[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def image_config(config: Dict[str, object]) -> ImageConfig:
    run = config.get("config")
    settings = run if isinstance(run, dict) else {}
    env = {}
    for item in _strings(settings.get("Env")):
        name, sep, value = item.partition("=")
        if sep and name:
            env[name] = value
    working_dir = settings.get("WorkingDir")
    return ImageConfig(_strings(settings.get("Entrypoint")), _strings(settings.get("Cmd")), env,
                       working_dir if isinstance(working_dir, str) and working_dir.startswith("/") else "/",
                       str(config.get("architecture")))


def image_architecture(source: Path) -> Optional[str]:
    """The architecture the image's config names, as Lambda names it ("x86_64", "arm64";
    another OCI name as it is), read before anything is unpacked, to know which RIE and
    whether qemu runs it. None when it cannot be told: ``unpack_image`` then says why."""
    try:
        if source.is_dir():
            def read(name: str) -> bytes:
                with open(source / name, "rb") as handle:
                    return handle.read(oci.MAX_JSON + 1)
            return _config_architecture(read)
        with tarfile.open(source, "r:*") as archive:
            members = {member.name[2:] if member.name.startswith("./") else member.name: member
                       for member in archive if member.isfile()}

            def read_member(name: str) -> bytes:
                handle = archive.extractfile(members[name])
                assert handle is not None
                with handle:
                    return handle.read(oci.MAX_JSON + 1)
            return _config_architecture(read_member)
    except (OSError, KeyError, ValueError, RecursionError, tarfile.TarError, EOFError, zlib.error):
        return None


def _config_architecture(read: Callable[[str], bytes]) -> Optional[str]:
    """index.json -> its one manifest -> the config's ``architecture`` (None at any surprise)."""
    def blob(descriptor: object) -> Dict[str, object]:
        digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
        hexpart = digest[len("sha256:"):] if isinstance(digest, str) and digest.startswith("sha256:") else ""
        if len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise ValueError("not a sha256 digest")
        return _json_object(read("blobs/sha256/" + hexpart))

    manifests = _json_object(read("index.json")).get("manifests")
    if not isinstance(manifests, list) or len(manifests) != 1:
        return None
    architecture = blob(blob(manifests[0]).get("config")).get("architecture")
    if not isinstance(architecture, str):
        return None
    return {oci_name: name for name, oci_name in oci.GOARCH.items()}.get(architecture, architecture)


def _json_object(data: bytes) -> Dict[str, object]:
    value = json.loads(data) if len(data) <= oci.MAX_JSON else None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def unpack_image(source: Path, root: Path, scratch: Path, arch: str) -> ImageConfig:
    """Apply ``source``'s layers into ``root`` (an existing, empty directory); its config."""
    try:
        base = oci.open_base(source, scratch, arch)
        floor = sum(layer.size for layer in base.layers)
        if floor > IMAGE_LIMIT:
            raise UnsafeImage("--image %s: its layers hold %s as stored, over Lambda's %s limit"
                              % (source, megabytes(floor), megabytes(IMAGE_LIMIT)))
        layers = oci.verify_layers(base.layers, IMAGE_LIMIT)
    except oci.ImageError as exc:
        raise UnsafeImage("\n".join(problem.replace("--base", "--image", 1) for problem in exc.problems)) from None
    total = sum(layer.unpacked_size for layer in layers)
    if total > IMAGE_LIMIT:
        raise UnsafeImage("--image %s unpacks to %s, over Lambda's %s limit for a container image"
                          % (source, megabytes(total), megabytes(IMAGE_LIMIT)))
    applier = _Applier(root)
    for number, layer in enumerate(layers, 1):
        try:
            applier.apply(layer)
        except (UnsafeImage, oci.ImageError, OSError) as exc:
            text = "; ".join(exc.problems) if isinstance(exc, oci.ImageError) else (
                exc.strerror or str(exc)) if isinstance(exc, OSError) and not isinstance(exc, UnsafeImage) else str(exc)
            raise UnsafeImage("--image %s: layer %d (%s): %s" % (source, number, layer.digest[:19], text)) from None
    applier.finish()
    return image_config(base.config)


class _Applier:
    """Layers applied one after the other onto one root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.top = os.open(self.root, _DIR_FLAGS)
        self.dir_modes: Dict[Tuple[str, ...], int] = {}
        self.written = 0

    def finish(self) -> None:
        try:
            for parts, mode in sorted(self.dir_modes.items(), key=lambda item: -len(item[0])):
                try:
                    fd = self._open_dir(parts, create=False)
                except (UnsafeImage, OSError):
                    continue  # removed or replaced by a later layer
                try:
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
        finally:
            os.close(self.top)

    # -- paths ----------------------------------------------------------------------------
    def _real(self, parts: Sequence[str]) -> Tuple[str, ...]:
        """Where the directory ``parts`` is, its symlinks resolved as the image's root would."""
        try:
            return tuple(resolve_inside(self.root, (), "/".join(parts)))
        except LinkEscape as exc:
            raise UnsafeImage("%r %s" % ("/".join(parts), exc)) from None

    def _open_dir(self, parts: Sequence[str], create: bool = True) -> int:
        """An fd of the directory ``parts`` (already resolved), walked without following
        any symlink; missing directories made (0755) when ``create``."""
        fd = os.dup(self.top)
        try:
            for depth, name in enumerate(parts, 1):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(name, 0o755, dir_fd=fd)
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafeImage("%r is not a directory" % "/".join(parts[:depth])) from None
                    raise
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _parent(self, parts: Sequence[str]) -> Tuple[int, Tuple[str, ...]]:
        real = self._real(parts[:-1])
        return self._open_dir(real), real

    # -- one layer --------------------------------------------------------------------------
    def apply(self, layer: oci.Blob) -> None:
        removals: List[Tuple[str, ...]] = []
        opaque: List[Tuple[str, ...]] = []
        for member, _ in oci.layer_members(layer):
            parts = oci.member_parts(member.name)
            if parts and parts[-1] == oci.OPAQUE:
                opaque.append(parts[:-1])
            elif parts and parts[-1].startswith(oci.WHITEOUT):
                removals.append(parts[:-1] + (parts[-1][len(oci.WHITEOUT):],))
        for parts in opaque:
            self._empty(parts)
        for parts in removals:
            self._remove(parts)
        for member, data in oci.layer_members(layer):
            parts = oci.member_parts(member.name)
            if not parts or parts[-1].startswith(oci.WHITEOUT):
                continue
            self._write(member, parts, data)

    def _remove(self, parts: Tuple[str, ...]) -> None:
        if not parts or parts[-1] in (".", ".."):
            return
        try:
            parent = self._open_dir(self._real(parts[:-1]), create=False)
        except (UnsafeImage, FileNotFoundError):
            return  # nothing there to remove
        try:
            _remove_at(parts[-1], parent)
        finally:
            os.close(parent)

    def _empty(self, parts: Tuple[str, ...]) -> None:
        try:
            fd = self._open_dir(self._real(parts), create=False)
        except (UnsafeImage, FileNotFoundError):
            return
        try:
            for name in os.listdir(fd):
                _remove_at(name, fd)
        finally:
            os.close(fd)

    def _write(self, member: tarfile.TarInfo, parts: Tuple[str, ...], data: Optional[object]) -> None:
        if member.ischr() or member.isblk() or member.isfifo():
            return  # the sandbox makes its own /dev
        parent, real = self._parent(parts)
        name = parts[-1]
        try:
            existing = lstat_at(name, parent)
            if member.isdir():
                if existing is not None and not stat.S_ISDIR(existing.st_mode):
                    os.unlink(name, dir_fd=parent)
                    existing = None
                if existing is None:
                    os.mkdir(name, 0o700, dir_fd=parent)
                self.dir_modes[real + (name,)] = member.mode & 0o1777
                return
            if existing is not None:
                _remove_at(name, parent)
            if member.issym():
                if not member.linkname or "\x00" in member.linkname:
                    raise UnsafeImage("%r is a symlink with an empty target" % member.name)
                os.symlink(member.linkname, name, dir_fd=parent)
            elif member.islnk():
                self._hard_link(member, parent, name)
            elif member.isreg():
                self._write_file(member, parent, name, data)
        finally:
            os.close(parent)

    def _hard_link(self, member: tarfile.TarInfo, parent: int, name: str) -> None:
        target = oci.member_parts(member.linkname)
        if not target:
            raise UnsafeImage("%r is a hard link to nothing" % member.name)
        source_parent, _ = self._parent(target)
        try:
            st = lstat_at(target[-1], source_parent)
            if st is None or not stat.S_ISREG(st.st_mode):
                raise UnsafeImage("%r is a hard link to %r, which is not a file of the image"
                                  % (member.name, member.linkname))
            os.link(target[-1], name, src_dir_fd=source_parent, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(source_parent)

    def _write_file(self, member: tarfile.TarInfo, parent: int, name: str, data: Optional[object]) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=parent)
        try:
            with os.fdopen(fd, "wb", closefd=False) as sink:
                while data is not None:
                    chunk = data.read(CHUNK)  # type: ignore[attr-defined]
                    if not chunk:
                        break
                    self.written += len(chunk)
                    if self.written > IMAGE_LIMIT:  # a sparse member can expand far past its tar's size
                        raise UnsafeImage("%r takes the image past Lambda's %s limit" % (member.name,
                                                                                      megabytes(IMAGE_LIMIT)))
                    sink.write(chunk)
            os.fchmod(fd, member.mode & 0o777)  # setuid and setgid dropped: nothing runs privileged
        finally:
            os.close(fd)


def _remove_at(name: str, dir_fd: int) -> None:
    """Remove ``name`` in ``dir_fd``, a whole tree if it is a directory, never following a link."""
    st = lstat_at(name, dir_fd)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchmod(fd, 0o700)
        for child in os.listdir(fd):
            _remove_at(child, fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)
