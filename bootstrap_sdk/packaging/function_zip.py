"""The function-code zip (/var/task): the layer's zip rules and checks, bootstrap optional."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional

from . import checks, zipper
from .checks import BuildError
from .manifest import function_manifest, manifest_path_for, sha256_of, write_manifest
from .options import Progress, host_arch


def check_function(source: Path, runtime: str, arch: str, exclude: Iterable[str] = ()) -> checks.Findings:
    """Check a function-code directory with the layer's rules (bootstrap optional)."""
    return checks.check_tree(source, arch, runtime, needs_bootstrap=False, mount="/var/task", exclude=exclude)


def own_files(source: Path, output: Path) -> List[str]:
    """The zip, its partial copy and its manifest, when written inside the source directory
    (``make-function-zip . -o function.zip``): never zipped into themselves."""
    try:
        rel = output.resolve().relative_to(source.resolve())
    except ValueError:
        return []
    manifest = manifest_path_for(output).resolve().relative_to(source.resolve())
    return [rel.as_posix(), rel.as_posix() + ".partial", manifest.as_posix()]


def build_function_zip(source: Path, output: Path, runtime: str = "provided.al2023",
                       arch: Optional[str] = None, progress: Progress = lambda line: None) -> Dict[str, object]:
    if not source.is_dir():
        raise BuildError(["%s is not a directory" % source])
    exclude = own_files(source, output)
    findings = check_function(source, runtime, arch or host_arch(), exclude)
    findings.raise_if_failed()
    output.parent.mkdir(parents=True, exist_ok=True)
    zipper.write_zip(source, output, exclude=exclude)
    zipped = output.stat().st_size
    checks.check_zipped_size(zipped, findings)
    manifest = function_manifest(output, sha256_of(output), zipped, findings.unzipped_bytes, findings.files,
                                 findings.warnings)
    write_manifest(output, manifest)
    progress("zip: %s (%s zipped, %s unzipped, %d files)" % (
        output, checks.megabytes(zipped), checks.megabytes(findings.unzipped_bytes), findings.files))
    return manifest
