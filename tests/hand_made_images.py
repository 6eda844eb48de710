"""OCI images made by hand for the tests: tarfile, gzip, json and hashlib, nothing of the
code under test, so that what reads images is tested against input it did not write."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

Member = Tuple[tarfile.TarInfo, Optional[bytes]]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(members: Sequence[Member]) -> bytes:
    """A tar of (header, data) members; data None for what has none."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def put(layout: Path, data: bytes, media_type: str, name: Optional[str] = None) -> Dict[str, object]:
    """A blob stored under its digest (or under ``name``, to make one that lies), and its descriptor."""
    path = layout / "blobs" / "sha256" / (name or sha256(data)[len("sha256:"):])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"mediaType": media_type, "digest": "sha256:" + path.name, "size": len(data)}
