"""What a layer build is asked for (``LayerOptions``) and what it gives back (``LayerResult``)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import attr

Progress = Callable[[str], None]


def host_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


@attr.s(auto_attribs=True)
class LayerOptions:
    output: Path
    runtime: str = "provided.al2023"
    arch: str = attr.Factory(host_arch)
    executables: List[Path] = attr.Factory(list)
    includes: List[Tuple[Path, str]] = attr.Factory(list)   # (source, layer path)
    library_paths: List[Path] = attr.Factory(list)
    python: Optional[str] = None
    sysroot: Optional[Path] = None  # the target's userland, for another --arch than this host's (sysroot.py)
    stdlib: str = "minimal"
    stdlib_modules: List[str] = attr.Factory(list)
    system_libc: bool = False
    stub_libraries: List[str] = attr.Factory(list)  # sonames replaced by stubs (see stub.py)
    call_host: bool = True  # build cobol-call-host when libcob is bundled (see call_host.py)
    bootstrap: Optional[Path] = None
    name: str = "bootstrap-sdk-runtime"
    description: str = "Python custom runtime built with bootstrap-sdk"
    license: str = ""


@attr.s(auto_attribs=True)
class LayerResult:
    zip_path: Path
    manifest_path: Path
    manifest: Dict[str, object]
    warnings: List[str]


def include_pairs(values: Sequence[str]) -> List[Tuple[Path, str]]:
    """--include SRC[:DEST] values → (source, layer path); DEST defaults to SRC's name."""
    pairs = []
    for value in values:
        source, sep, dest = value.partition(":")
        pairs.append((Path(source), dest if sep else Path(source).name))
    return pairs


@attr.s(auto_attribs=True)
class ImageOptions:
    """What an image build is asked for: the runtime's tree as ``layer`` describes it (its
    ``output`` unused), the function's code, and the image around them."""

    output: Path
    layer: LayerOptions
    function: Optional[Path] = None   # a directory or a function zip, for /var/task
    handler: Optional[str] = None     # the image's Cmd: _HANDLER for the runtime
    base: Optional[Path] = None       # an OCI layout or oci-archive whose layers go under ours
    entrypoint: str = "/opt/bootstrap"
    rie: Optional[Path] = None        # the RIE, added at /usr/local/bin/aws-lambda-rie
    layout: bool = False              # an OCI layout directory instead of an oci-archive tar
    tag: str = "latest"


@attr.s(auto_attribs=True)
class ImageResult:
    output: Path
    manifest_path: Path
    manifest: Dict[str, object]
    warnings: List[str]
