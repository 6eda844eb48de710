"""A Docker build context for teams that build images with Docker.

The same runtime tree as a layer's and an image's (``layer.staged_runtime``, with every
check), the function's code checked as ``make-function-zip`` checks it, and a Dockerfile
rendered from ``templates/Dockerfile.scratch.in`` (FROM scratch: the tree is all the image
needs) or ``templates/Dockerfile.provided.in`` (FROM AWS's provided:al2023, whose own
entrypoint runs ``/var/runtime/bootstrap``)::

    DIR/Dockerfile  DIR/opt/ (the runtime)  DIR/task/ (the function)  DIR/tmp/
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

from .bootstrap_file import template_path
from .checks import LAMBDA_LD_LIBRARY_PATH, LAMBDA_PATH, BuildError, Findings
from .image import function_tree
from .layer import staged_runtime
from .oci import GOARCH
from .options import LayerOptions, Progress

TEMPLATES = {"scratch": "Dockerfile.scratch.in", "provided": "Dockerfile.provided.in"}


def render_dockerfile(base: str, handler: Optional[str], arch: str) -> str:
    text = template_path(TEMPLATES[base]).read_text()
    for key, value in (("{platform}", GOARCH[arch]), ("{path}", LAMBDA_PATH),
                       ("{ld_library_path}", LAMBDA_LD_LIBRARY_PATH),
                       ("{cmd}", json.dumps([handler] if handler else []))):
        text = text.replace(key, value)
    return text


def write_docker_context(directory: Path, layer: LayerOptions, function: Optional[Path], handler: Optional[str],
                         base: str, progress: Progress = lambda line: None) -> Path:
    """Write the context into ``directory`` (new or empty); the Dockerfile's path."""
    if directory.is_symlink() or directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BuildError(["--docker-context %s: give a new or empty directory" % directory])
    with tempfile.TemporaryDirectory(prefix="make-runtime-image-") as tmp:
        findings = Findings()
        code = function_tree(function, handler, layer, Path(tmp), findings, os_userland=base != "scratch")
        if function is not None and not function.exists():
            findings.errors.append("--function %s: no such file or directory" % function)
        with staged_runtime(layer, progress, size_limit=None, os_userland=base != "scratch") as (
                stage, layer_findings, warnings):
            findings.errors[:0] = layer_findings.errors
            findings.raise_if_failed()
            directory.mkdir(parents=True, exist_ok=True)
            shutil.copytree(stage.root, directory / "opt", symlinks=True)
        if code is not None:
            shutil.copytree(code, directory / "task", symlinks=True)
        else:
            (directory / "task").mkdir()
    (directory / "tmp").mkdir()
    os.chmod(directory / "tmp", 0o1777)
    dockerfile = directory / "Dockerfile"
    dockerfile.write_text(render_dockerfile(base, handler, layer.arch))
    progress("docker context: %s (FROM %s)" % (directory, "scratch" if base == "scratch" else
                                               "public.ecr.aws/lambda/provided:al2023"))
    for warning in warnings + layer_findings.warnings + findings.warnings:
        print("make-runtime-image: warning: %s" % warning, file=sys.stderr)
    return dockerfile
