"""Build a self-contained runtime layer: the pipeline, one step after the other.

    validate → stage (interpreter, stdlib, runtime, programs, call mode's host when libcob
    comes) → compile .pyc → bundle the
    shared libraries → patch them → bootstrap → check the tree → zip → manifest

Each step is a function of its own module (``stage``, ``bundle``, ``patch``, ``checks``,
``zipper``, ``manifest``); this one only runs them in order in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from . import checks, elf, stage as staging, zipper
from .bundle import bundle_libraries
from .call_host import add_call_host
from .manifest import layer_manifest, sha256_of, write_manifest
from .options import LayerOptions, LayerResult, Progress
from .patch import patch_stage


def build_layer(options: LayerOptions, progress: Progress = lambda line: None) -> LayerResult:
    with staged_runtime(options, progress) as (stage, findings, warnings):
        findings.raise_if_failed()
        return _zip_and_describe(stage, options, findings, warnings, progress)


@contextmanager
def staged_runtime(options: LayerOptions, progress: Progress, size_limit: Optional[int] = checks.UNZIPPED_LIMIT,
                   os_userland: bool = True) -> Iterator[Tuple[staging.Stage, checks.Findings,
                                                                              List[str]]]:
    """The layer's tree, staged, bundled, patched and checked, in a temporary directory
    that lives as long as the ``with``. ``findings`` holds every problem, for the caller to
    raise with its own: the layer zips the tree, the image builder (``image.py``) puts it
    at /opt in an image layer."""
    warnings = staging.validate(options)
    interpreter, sysroot = staging.choose_interpreter(options, progress)
    with tempfile.TemporaryDirectory(prefix="make-runtime-layer-") as tmp:
        stage = staging.new_stage(Path(tmp) / "layer", interpreter, sysroot)
        staging.add_python(stage, options, progress)
        staging.add_runtime(stage)
        staging.compile_python(stage, progress)
        staging.add_programs(stage, options, progress)
        add_call_host(stage, options, progress)
        problems = bundle_libraries(stage, options, progress)
        self_contained = patch_stage(stage, options.system_libc, elf.LOADERS[options.arch], progress)
        staging.add_bootstrap(stage, options)
        progress("checking: paths, modes, symlinks, architecture, glibc, bootstrap, size")
        findings = checks.check_tree(stage.root, options.arch, options.runtime, self_contained,
                                     size_limit=size_limit, os_userland=os_userland)
        findings.errors[:0] = problems  # every problem at once, the closure's first
        yield stage, findings, warnings


def _zip_and_describe(stage: staging.Stage, options: LayerOptions, findings: checks.Findings,
                      warnings: List[str], progress: Progress) -> LayerResult:
    output = options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    zipper.write_zip(stage.root, output)
    zipped = output.stat().st_size
    checks.check_zipped_size(zipped, findings)
    warnings = warnings + findings.warnings
    left, budget = checks.budget_left(findings.unzipped_bytes)
    progress("zip: %s (%s zipped, %s unzipped, %d files); %s" % (
        output, checks.megabytes(zipped), checks.megabytes(findings.unzipped_bytes), findings.files, budget))
    manifest = layer_manifest(
        name=options.name, description=options.description, license=options.license,
        zip_path=output, sha256=sha256_of(output), zipped_bytes=zipped,
        unzipped_bytes=findings.unzipped_bytes, budget_left=left, runtimes=[options.runtime],
        architectures=[options.arch], python="%d.%d" % stage.interpreter.version, files=findings.files,
        bundled_libraries=sorted(os.listdir(stage.lib_dir)), warnings=warnings)
    if stage.sysroot is not None:  # where the interpreter and libraries came from, to rebuild the same layer
        manifest["sysroot"] = stage.sysroot.describe()
    manifest_path = write_manifest(output, manifest)
    progress("manifest: %s" % manifest_path)
    return LayerResult(output, manifest_path, manifest, warnings)
