"""Build a function image: the runtime layer's tree and the function's code, as OCI layers.

    validate → read the base (if any) → check the function → stage the runtime (the layer
    builder's pipeline) → write the layers → check the image → config, manifest → write
    the oci-archive (or layout) → the manifest JSON beside it

The image's layers, bottom to top: the base's (kept as they are), the runtime (``/opt``
exactly as a layer lays it out, plus ``/tmp`` and ``/var/task``), the RIE if asked for
(``/usr/local/bin/aws-lambda-rie``), the function (``/var/task``). The function's layer
comes last so that a code change leaves the runtime's digest alone: registries and Lambda
keep it cached. Every check runs before the output is written, and all problems are
listed at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from . import checks, oci, zipper
from .checks import IMAGE_LIMIT, LAMBDA_LD_LIBRARY_PATH, LAMBDA_PATH, BuildError, Findings
from .elf import MACHINES, read_elf
from .function_zip import check_function, check_handler
from .layer import staged_runtime
from .manifest import image_manifest, write_manifest
from .options import ImageOptions, ImageResult, LayerOptions, Progress

RIE_PATH = "/usr/local/bin/aws-lambda-rie"
TASK_ROOT = "/var/task"
LAMBDA_ENV = {"PATH": LAMBDA_PATH, "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH, "LAMBDA_TASK_ROOT": TASK_ROOT,
              "LAMBDA_RUNTIME_DIR": "/var/runtime"}
SKELETON = ("tmp/", "var/", "var/runtime/", "var/task/")  # what Lambda's own environment has


def build_image(options: ImageOptions, progress: Progress = lambda line: None) -> ImageResult:
    arch = options.layer.arch
    problems = _option_problems(options)
    if problems:
        raise BuildError(problems)
    with tempfile.TemporaryDirectory(prefix="make-runtime-image-") as tmp:
        scratch = Path(tmp)
        findings = Findings()
        base = _read_base(options, scratch, findings)
        function_dir = function_tree(options.function, options.handler, options.layer, scratch, findings,
                                     os_userland=options.base is not None)
        if options.rie is not None:
            findings.errors += _rie_problems(options.rie, arch)
        progress("function: %s" % (function_dir or "none (the image runs what --handler names in /opt)"))
        with staged_runtime(options.layer, progress, size_limit=None, os_userland=options.base is not None) as (
                stage, layer_findings, warnings):
            findings.errors[:0] = layer_findings.errors
            findings.warnings[:0] = warnings + layer_findings.warnings
            findings.errors += _entrypoint_problems(options.entrypoint, stage.root, function_dir, options.rie, base)
            findings.raise_if_failed()  # before any layer is written
            blobs = scratch / "layout" / "blobs" / "sha256"
            layers = _write_layers(options, stage.root, function_dir, blobs, progress)
        if base is not None:
            layers = base.layers + layers
        total = sum(layer.unpacked_size for layer in layers)
        if total > IMAGE_LIMIT:
            raise BuildError(["the image unpacks to %s, over Lambda's %s limit for a container image"
                              % (checks.megabytes(total), checks.megabytes(IMAGE_LIMIT))])
        if not options.handler:
            findings.warnings.append("no --handler: the image's Cmd is empty, so the runtime fails init with "
                                     "Runtime.MalformedHandlerName unless the function's ImageConfig sets Command")
        config = oci.json_blob(_config(options, base, layers), oci.OCI_CONFIG, blobs)
        manifest = oci.json_blob({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": config.descriptor(),
                                  "layers": [layer.descriptor() for layer in layers]}, oci.OCI_MANIFEST, blobs)
        for layer in base.layers if base else []:
            oci.store(layer, blobs)
        oci.write_layout(scratch / "layout", manifest, options.tag)
        _write_output(scratch / "layout", options)
    described = image_manifest(options=options, manifest_digest=manifest.digest, manifest_size=manifest.size,
                               config_digest=config.digest, layers=layers, base=base.where if base else None,
                               base_layers=len(base.layers) if base else 0, warnings=findings.warnings)
    path = write_manifest(options.output, described)
    progress("image: %s (%s compressed, %s uncompressed, %d layers); manifest %s" % (
        options.output, checks.megabytes(sum(layer.size for layer in layers)), checks.megabytes(total), len(layers),
        path))
    return ImageResult(options.output, path, described, findings.warnings)


def _option_problems(options: ImageOptions) -> List[str]:
    problems = []
    if options.layer.system_libc and options.base is None:
        problems.append("--system-libc needs a --base that brings glibc: an image from scratch has only what the "
                        "runtime bundles")
    if not options.entrypoint.startswith("/") or ".." in options.entrypoint.split("/"):
        problems.append("--entrypoint %r: an absolute path inside the image, without '..'" % options.entrypoint)
    if options.function is not None and not options.function.exists():
        problems.append("--function %s: no such file or directory" % options.function)
    if options.rie is not None and not options.rie.is_file():
        problems.append("--with-rie %s: no such file (install it with scripts/install-rie.sh)" % options.rie)
    tag = options.tag
    if not tag or len(tag) > 128 or not (tag[0].isalnum() or tag[0] == "_") or not all(
            c.isascii() and (c.isalnum() or c in "_.-") for c in tag):
        problems.append("--tag %r: a tag is 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
                        % tag)
    return problems


def _read_base(options: ImageOptions, scratch: Path, findings: Findings) -> Optional[oci.Base]:
    """The base, checked (its blobs against their digests, its size measured), or None."""
    if options.base is None:
        return None
    try:
        base = oci.open_base(options.base, scratch, options.layer.arch)
        # What the descriptors alone show is over the limit is refused before anything is read.
        floor = sum(layer.size for layer in base.layers)
        if floor > IMAGE_LIMIT:
            raise oci.ImageError(["%s: its layers hold %s as stored, over Lambda's %s limit for an image"
                                  % (base.where, checks.megabytes(floor), checks.megabytes(IMAGE_LIMIT))])
        return base._replace(layers=oci.verify_layers(base.layers, IMAGE_LIMIT))
    except oci.ImageError as exc:
        findings.errors += exc.problems
        return None


def function_tree(function: Optional[Path], handler: Optional[str], layer: LayerOptions, scratch: Path,
                  findings: Findings, os_userland: bool = True) -> Optional[Path]:
    """The function's code as a directory (a zip is extracted into ``scratch`` first,
    safely), checked with make-function-zip's rules; None without --function."""
    source = function
    if source is None or not source.exists():
        return None
    if source.is_file():
        tree = scratch / "function"
        try:
            zipper.extract(source, tree)
        except zipper.UnsafeZip as exc:
            findings.errors.append("--function %s" % exc)
            return None
        source = tree
    found = check_function(source, layer.runtime, layer.arch, size_limit=None, os_userland=os_userland)
    if handler:
        check_handler(source, handler, found)
    findings.errors += ["--function %s: %s" % (function, problem) for problem in found.errors]
    findings.warnings += found.warnings
    return source


def _rie_problems(rie: Path, arch: str) -> List[str]:
    info = read_elf(str(rie)) if rie.is_file() else None
    if info is None:
        return ["--with-rie %s is not an ELF program" % rie] if rie.is_file() else []
    if info.machine != MACHINES[arch]:
        return ["--with-rie %s is built for %s, not %s (%s): build the RIE for %s" % (
            rie, info.machine, arch, MACHINES[arch], arch)]
    return []


def _entrypoint_problems(entrypoint: str, opt: Path, function_dir: Optional[Path], rie: Optional[Path],
                         base: Optional[oci.Base]) -> List[str]:
    """The entrypoint must be an executable file of the image: in one of its own trees,
    or else in the base's layers."""
    trees = [("/opt/", opt)] + ([(TASK_ROOT + "/", function_dir)] if function_dir else [])
    for prefix, tree in trees:
        if entrypoint.startswith(prefix):
            try:
                found = tree.joinpath(*zipper.resolve_inside(tree, (), entrypoint[len(prefix):]))
            except zipper.LinkEscape:
                return ["the entrypoint %s is a symlink that leads out of %s" % (entrypoint, prefix)]
            if found.is_file():
                if found.stat().st_mode & 0o111 != 0o111:
                    return ["the entrypoint %s is not executable by everyone (mode %o): Lambda would fail with "
                            "Runtime.InvalidEntrypoint; chmod 755 it" % (entrypoint, found.stat().st_mode & 0o7777)]
                return []
    if rie is not None and entrypoint == RIE_PATH:
        return []
    if base is not None and oci.base_has_executable(base, entrypoint):
        return []
    return ["the entrypoint %s is not an executable file in the image: Lambda would fail with "
            "Runtime.InvalidEntrypoint (the runtime's is /opt/bootstrap; a bootstrap in the function's code is "
            "/var/task/bootstrap)" % entrypoint]


def _write_layers(options: ImageOptions, opt: Path, function_dir: Optional[Path], blobs: Path,
                  progress: Progress) -> List[oci.Blob]:
    epoch = zipper.source_date_epoch()
    plan: List[Tuple[str, Sequence[Tuple[str, Path]]]] = [
        ("runtime", oci.tree_entries(opt, "opt") + [(name, Path()) for name in SKELETON])]
    if options.rie is not None:
        plan.append(("rie", [("usr/", Path()), ("usr/local/", Path()), ("usr/local/bin/", Path()),
                             (RIE_PATH.lstrip("/"), options.rie)]))
    if function_dir is not None:
        plan.append(("function", oci.tree_entries(function_dir, "var/task")))
    layers = []
    for what, entries in plan:
        started = time.monotonic()
        layer = oci.write_layer(entries, blobs, epoch)
        progress("layer %s: %s (%s compressed, %s uncompressed, %.1f s)" % (
            what, layer.digest[:19], checks.megabytes(layer.size), checks.megabytes(layer.unpacked_size),
            time.monotonic() - started))
        layers.append(layer)
    return layers


def image_env(base_env: object) -> List[str]:
    """The base's Env with Lambda's own variables set over it (PATH, LD_LIBRARY_PATH,
    LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR), in the base's order, new names after."""
    env: Dict[str, str] = {}
    for item in base_env if isinstance(base_env, list) else []:
        if isinstance(item, str) and "=" in item:
            name, _, value = item.partition("=")
            env[name] = value
    env.update(LAMBDA_ENV)
    return ["%s=%s" % item for item in env.items()]


def _config(options: ImageOptions, base: Optional[oci.Base], layers: Sequence[oci.Blob]) -> Dict[str, object]:
    inherited = dict(base.config) if base else {}
    run = inherited.get("config")
    settings: Dict[str, object] = dict(run) if isinstance(run, dict) else {}
    settings.update({"Entrypoint": [options.entrypoint], "Cmd": [options.handler] if options.handler else [],
                     "WorkingDir": TASK_ROOT, "Env": image_env(settings.get("Env"))})
    settings.pop("Healthcheck", None)  # Lambda runs no health check; a base's would only mislead
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(zipper.source_date_epoch()))
    earlier = inherited.get("history")
    history = list(earlier) if isinstance(earlier, list) else []
    mine = ["make-runtime-image: the runtime (/opt)"] + (["make-runtime-image: the RIE"] if options.rie else []) + (
        ["make-runtime-image: the function (/var/task)"] if options.function else [])
    history += [{"created": created, "created_by": line} for line in mine]
    inherited.update({"architecture": oci.GOARCH[options.layer.arch], "os": "linux", "created": created,
                      "config": settings, "history": history,
                      "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}})
    if options.layer.arch == "arm64":
        inherited["variant"] = "v8"
    else:
        inherited.pop("variant", None)
    return inherited


def _write_output(layout: Path, options: ImageOptions) -> None:
    output = options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    if not options.layout:
        oci.write_archive(layout, output, zipper.source_date_epoch())
        return
    if output.exists():
        if output.is_symlink() or not output.is_dir() or any(output.iterdir()):
            raise BuildError(["-o %s: an OCI layout is written into a new or empty directory" % output])
        output.rmdir()
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(layout, partial)
    for directory, dirs, files in os.walk(partial):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    os.replace(partial, output)
