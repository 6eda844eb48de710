"""The function-code zip (/var/task): the layer's zip rules and checks, bootstrap optional."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from ..adapter.command import names_program, split_command
from ..errors import InitError
from ..python_handler import split_handler
from . import checks, zipper
from .checks import BuildError
from .manifest import function_manifest, manifest_path_for, sha256_of, write_manifest
from .options import Progress, host_arch


def check_function(source: Path, runtime: str, arch: str, exclude: Iterable[str] = (),
                   size_limit: Optional[int] = checks.UNZIPPED_LIMIT, os_userland: bool = True) -> checks.Findings:
    """Check a function-code directory with the layer's rules (bootstrap optional)."""
    return checks.check_tree(source, arch, runtime, needs_bootstrap=False, mount="/var/task", exclude=exclude,
                             size_limit=size_limit, os_userland=os_userland)


HANDLER_LIMIT = 128  # characters of Lambda's Handler setting, which may hold no white space


def lambda_refuses_handler(handler: str) -> bool:
    """Would Lambda's API refuse this Handler (its pattern is [^\\s]+, at most 128 characters)?"""
    return not handler or len(handler) > HANDLER_LIMIT or any(c.isspace() for c in handler)


def check_handler(source: Path, handler: str, findings: checks.Findings) -> None:
    """What the handler names, checked against the code as Lambda will resolve it
    (``adapter.command``'s rules): a program in the code must be there and executable;
    a Python handler's module should be. Programs on PATH or in /opt come from layers:
    not checked here."""
    if lambda_refuses_handler(handler):
        findings.errors.append(
            "--handler %r: Lambda refuses a Handler that is empty, has white space or is over %d characters (its "
            "pattern is [^\\s]+): name the program alone (cobcrun) and give its arguments in "
            "BOOTSTRAP_SDK_EXEC_ARGS (-M /var/task/ PAYROLL)" % (handler, HANDLER_LIMIT))
        return
    task_root = str(source)
    text = handler.strip()
    # bin/payroll, missing from the code, reads as a program that is missing, not as Python.
    path_like = "/" in text and "." not in text.rsplit("/", 1)[-1]
    if path_like or names_program(handler, task_root, "", False):
        try:
            program = split_command(handler)[0]
        except InitError as exc:
            findings.errors.append("--handler %r: %s" % (handler, exc.message))
            return
        if program.startswith("/var/task/"):
            program = program[len("/var/task/"):]
        elif os.path.isabs(program) or "/" not in program and not (source / program).exists():
            return  # in /opt, or a bare name found on Lambda's PATH (/opt/bin): a layer's
        path = source / program
        if not path.is_file():
            findings.errors.append("the handler names the program %s, which is not in %s: Lambda would fail "
                                   "with Runtime.ExecutableNotFound" % (program, source))
        elif not os.stat(path).st_mode & 0o111:
            findings.warnings.append("the handler names %s, which is not executable (mode %o): Lambda would fail "
                                     "with Runtime.ExecutableNotExecutable; chmod 755 it"
                                     % (program, os.stat(path).st_mode & 0o7777))
        return
    if text.startswith("/") or text and "." not in text and "/" not in text:
        return  # a program in /opt or on PATH (a layer's), as the runtime would find it
    try:
        module = split_handler(handler)[0]
    except InitError as exc:
        findings.errors.append("--handler %r: %s" % (handler, exc.message))
        return
    candidates = [module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"]
    if not any((source / name).is_file() for name in candidates):
        findings.warnings.append("the handler %s names the Python module %s, but %s holds neither %s: Lambda "
                                 "would fail with Runtime.ImportModuleError unless a layer brings it"
                                 % (handler, module, source, " nor ".join(candidates)))


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
                       arch: Optional[str] = None, progress: Progress = lambda line: None,
                       handler: Optional[str] = None) -> Dict[str, object]:
    if not source.is_dir():
        raise BuildError(["%s is not a directory: give the directory whose contents become /var/task" % source
                          if source.exists() else "%s: no such directory" % source])
    exclude = own_files(source, output)
    arch = arch or host_arch()
    findings = check_function(source, runtime, arch, exclude)
    if handler is not None:
        check_handler(source, handler, findings)
    if findings.files == 0:
        findings.errors.append("%s holds no files: Lambda refuses an empty zip (is it the right directory?)" % source)
    findings.raise_if_failed()
    output.parent.mkdir(parents=True, exist_ok=True)
    zipper.write_zip(source, output, exclude=exclude)
    zipped = output.stat().st_size
    checks.check_zipped_size(zipped, findings)
    manifest = function_manifest(output, sha256_of(output), zipped, findings.unzipped_bytes, findings.files,
                                 findings.warnings, runtime=runtime, architecture=arch)
    write_manifest(output, manifest)
    progress("zip: %s (%s zipped, %s unzipped, %d files)" % (
        output, checks.megabytes(zipped), checks.megabytes(findings.unzipped_bytes), findings.files))
    return manifest
