#!/usr/bin/env python3
"""The COBOL example, end to end: build, lay out as Lambda does, run under the RIE, invoke.

    python3 examples/cobol/run.py [--out build/cobol] [--no-build] [--arch x86_64|arm64|both]

Builds the layer, the function and the image (build.py), lays the layer and function out
in a Lambda-shaped root (/opt, /var/task, /tmp; nothing of this machine's libraries),
starts the real RIE chrooted into it once per function configuration (functions.json),
sends the sample events in events/, good and bad (and the EBCDIC dataset in data/,
decoded into one), and prints each request with its response. Then the same functions
from the image (its layers unpacked into a root of their own, its entrypoint run with
each function's Cmd): every answer must be the layer's, byte for byte. Then, on an
x86_64 machine, the same for Graviton: the programs, layer, function and image cross-built
for arm64 (build.py --arch arm64, into OUT-arm64) and run by the arm64 RIE under qemu-user
in the same sandbox: every answer must be x86_64's. ``--arch x86_64`` skips that part;
``--arch arm64`` runs only it (its answers then checked against x86_64's all the same).
Needs root (chroot and a private mount namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bootstrap_sdk.local.emulation import EmulationUnavailable  # noqa: E402
from bootstrap_sdk.local.image_root import ImageConfig, UnsafeImage, unpack_image  # noqa: E402
from bootstrap_sdk.local.rie import RieFailed, RieNotFound  # noqa: E402
from bootstrap_sdk.local.sandbox import Sandbox, SandboxError, function_log, lay_out  # noqa: E402
from bootstrap_sdk.packaging.options import host_arch  # noqa: E402
from bootstrap_sdk.packaging.zipper import UnsafeZip  # noqa: E402

import build  # noqa: E402

SAMPLES: List[Tuple[str, str, str]] = [
    ("payroll", "good-week.json", "a normal week"),
    ("payroll", "overtime.json", "46 hours, 6 of them at time and a half, and a deduction"),
    ("payroll", "zero-rate.json", "a bad record: hourly rate zero; PAYROLL rejects it with RETURN-CODE 8"),
    ("payroll", "invalid-field.json", "an invalid event: text in a numeric field; the codec names the field"),
    ("payroll", "abend.json", "an abend: hours but zero days worked; divide by zero, RETURN-CODE 16"),
    ("payroll", "batch.json", "a list sent to PAYROLL, which takes one record: refused, none silently dropped"),
    ("payroll", "good-week.json", "after all that, the next invoke is served as usual"),
    ("paybatch", "batch.json", "a batch of four through files PAYIN/PAYOUT; one record is rejected (E4)"),
    ("paycalc", "good-week.json", "the subprogram PAYCALC, CALLed in a warm host: the same week, the same pay"),
    ("paycalc", "zero-rate.json", "a subprogram returns the rejection in PO-STATUS (E2), RETURN-CODE 0"),
    ("paycalc", "abend.json", "the abend, as GOBACK with RETURN-CODE 16: the host lives on"),
    ("paycalc", "overtime.json", "and serves the next invoke from its fresh WORKING-STORAGE"),
    ("accounts", "../data/accounts.cp037.vb", "the mainframe dataset (EBCDIC, RECFM=VB) as JSON: ACCTSUM sums up "
                                              "each customer; an account with no customer first gets E1"),
    ("accounts", "accounts-bad-count.json", "an account whose movements disagree with its count AS-MOVES: refused, "
                                            "naming the field"),
]
# The dataset's encoding and format, and the selector of functions.json's accounts function:
# run.py decodes it into the JSON event, as cobol-data decode would.
DATASET = {"encoding": "cp037", "format": "VB"}


def _event(path: Path, config: Dict[str, str]) -> bytes:
    """A sample event: a JSON file as it is, or a dataset's records decoded into a JSON list."""
    if path.suffix != ".vb":
        return path.read_bytes()
    from bootstrap_sdk.copybook import Copybook, DataEncoding, Selector
    from bootstrap_sdk.copybook.record_formats import RecordFormat, read_records

    book = Copybook.load(str(HERE / config["BOOTSTRAP_SDK_EXEC_INPUT_COPYBOOK"]), DataEncoding(DATASET["encoding"]),
                         Selector.parse_many(config["BOOTSTRAP_SDK_EXEC_SELECT"]))
    with open(path, "rb") as handle:
        lines = [book.decode_json(record) for _, _, record in read_records(handle, RecordFormat.parse(
            DATASET["format"]))]
    return ("[" + ",\n".join(lines) + "]").encode()


def function_config(name: str) -> Dict[str, str]:
    config = json.loads((HERE / "functions.json").read_text())[name]
    env = dict(config["environment"])
    env["_HANDLER"] = config["handler"]
    env["AWS_LAMBDA_FUNCTION_NAME"] = name
    env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "10"
    return env


def show(value: bytes) -> str:
    """JSON indented for reading, numbers exactly as sent (31.40 stays 31.40, never 31.4)."""
    try:
        return _pretty(json.loads(value, parse_float=Decimal, parse_int=Decimal), "")
    except ValueError:
        return value.decode("utf-8", "replace")


def _pretty(value: object, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, dict):
        items = ["%s%s: %s" % (inner, json.dumps(k), _pretty(v, inner)) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(value, list):
        if all(isinstance(v, Decimal) for v in value):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return "[\n" + ",\n".join(inner + _pretty(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "cobol",
                        help="where the layer and function are built (default: build/cobol in the repository)")
    parser.add_argument("--no-build", action="store_true", help="use what --out already holds")
    parser.add_argument("--arch", choices=["x86_64", "arm64", "both"], default="both",
                        help="which architectures to build and run (default both: arm64 under emulation, each "
                             "answer compared with x86_64's; on an arm64 machine, both is arm64 alone)")
    return parser


def main() -> int:
    args = arg_parser().parse_args()
    try:
        return run(args.out, args.no_build, args.arch)
    except build.BuildFailed as exc:
        print("run.py: error: %s" % exc, file=sys.stderr)
    except (SandboxError, UnsafeZip, UnsafeImage, RieNotFound, RieFailed, EmulationUnavailable) as exc:
        print("run.py: error: %s" % exc, file=sys.stderr)
    except OSError as exc:
        print("run.py: error: %s: %s" % (exc.filename or "", exc.strerror or exc), file=sys.stderr)
    return 2


def run(out: Path, no_build: bool, arch: str = "both") -> int:
    """Build (unless ``no_build``), lay out, invoke every sample; 1 if an answer was not HTTP
    200, or the image's or arm64's differs from the layer's on x86_64."""
    if os.geteuid() != 0:
        raise SandboxError("the sandbox needs root (namespaces, mounts, a cgroup, chroot), as Docker would: "
                           "run this as root")
    unexpected = 0
    with tempfile.TemporaryDirectory(prefix="cobol-root-") as tmp:
        answers = run_layer(out, no_build, Path(tmp), printing=arch != "arm64")
        if arch != "arm64":
            unexpected += sum(1 for body in answers.values() if body is None)
            unexpected += run_image(_built(out)["image"], Path(tmp), answers)
        if arch != "x86_64" and host_arch() == "x86_64":
            unexpected += run_arm64(out.with_name(out.name + "-arm64"), no_build, Path(tmp), answers)
    return 1 if unexpected else 0


def _built(out: Path) -> Dict[str, Path]:
    name = build.function_name(build.PROGRAMS)
    return {"layer": out / "cobol-runtime.zip", "function": out / ("%s-function.zip" % name),
            "image": out / ("%s-image.tar" % name)}


def _print_sizes(built: Dict[str, Path]) -> None:
    for kind in ("layer", "function"):
        manifest = json.loads(built[kind].with_name(built[kind].stem + ".manifest.json").read_text())
        print("%-8s %s: %.2f MB zipped, %.2f MB unzipped, sha256 %s" % (
            kind, built[kind].name, manifest["zipped_bytes"] / 1e6, manifest["unzipped_bytes"] / 1e6,
            manifest["sha256"][:16]))
    image = json.loads(built["image"].with_name(built["image"].stem + ".manifest.json").read_text())
    print("%-8s %s: %.2f MB compressed, %.2f MB uncompressed, %d layers, %s" % (
        "image", built["image"].name, image["compressed_bytes"] / 1e6, image["uncompressed_bytes"] / 1e6,
        len(image["layers"]), image["manifest_digest"][:23]))


def run_layer(out: Path, no_build: bool, tmp: Path, printing: bool = True) -> Dict[Tuple[str, str, int], bytes]:
    """The samples through the layer and function on this machine's architecture, each
    request and response printed (``printing``); the answers, None for one not HTTP 200."""
    if no_build:
        built = _built(out)
    else:
        print("== building the layer, the function and the image (examples/cobol/build.py)")
        built = build.build(out)
    if printing:
        _print_sizes(built)
    answers: Dict[Tuple[str, str, int], Optional[bytes]] = {}
    root = lay_out(tmp / "root", [built["layer"]], built["function"])
    if printing:
        print("root:    %s holds %s" % (root, ", ".join(sorted("/" + p.name for p in root.iterdir()))))
    for function in json.loads((HERE / "functions.json").read_text()):
        log_path = tmp / (function + ".log")
        with open(log_path, "wb") as log, Sandbox(root, function_config(function), log=log) as sandbox:
            config = function_config(function)
            setting = "BOOTSTRAP_SDK_EXEC_USING" if "BOOTSTRAP_SDK_EXEC_USING" in config else \
                "BOOTSTRAP_SDK_EXEC_ARGS"
            if printing:
                print("\n######## function %s: _HANDLER=%r, %s=%r" % (
                    function, config["_HANDLER"], setting, config.get(setting, "")))
            for number, (target, event_file, title) in enumerate(SAMPLES):
                if target != function:
                    continue
                event = _event(HERE / "events" / event_file, config)
                result = sandbox.rie.invoke(event)
                answers[(function, event_file, number)] = result.body if result.status == 200 else None
                if printing:
                    print("\n== %s (%s)" % (title, os.path.normpath("events/" + event_file)))
                    print("request:\n%s" % show(event).strip())
                    print("response (HTTP %d, %.1f ms):\n%s" % (result.status, result.seconds * 1000,
                                                               show(result.body)))
        if printing:
            print("\n-- log of %s (what CloudWatch would hold)" % function)
            for line in function_log(log_path.read_text(errors="replace"), sandbox.max_memory_used_mb()):
                print("   " + line)
    return answers  # type: ignore[return-value]


def run_arm64(out: Path, no_build: bool, tmp: Path, answers: Dict[Tuple[str, str, int], bytes]) -> int:
    """The example cross-built for arm64 (Graviton), its layer and function and then its
    image run under emulation: the number of answers that differ from x86_64's."""
    if no_build:
        built = _built(out)
    else:
        print("\n== building the example for arm64 (examples/cobol/build.py --arch arm64 --out %s)" % out)
        built = build.build(out, arch="arm64")
    print("\n######## the same functions on arm64 (Graviton): cross-built here, run by the arm64 RIE under qemu-user")
    _print_sizes(built)
    root = lay_out(tmp / "arm64-root", [built["layer"]], built["function"])
    different = _compare(root, answers, "arm64 layer", "arm64")
    image_root = tmp / "arm64-image-root"
    image_root.mkdir()
    scratch = tmp / "arm64-image-scratch"
    scratch.mkdir()
    config = unpack_image(built["image"], image_root, scratch, "arm64")
    different += _compare(image_root, answers, "arm64 image", "arm64", config)
    print("arm64: %d of %d answers as x86_64 gave them" % (2 * len(answers) - different, 2 * len(answers)))
    return different


def _compare(root: Path, answers: Dict[Tuple[str, str, int], Optional[bytes]], what: str, arch: str,
             image: Optional[ImageConfig] = None) -> int:
    """Every sample again in ``root`` (an image's when ``image``), one sandbox per function;
    the number of answers that differ from ``answers`` (request ids aside)."""
    different = 0
    for function in json.loads((HERE / "functions.json").read_text()):
        env = dict(image.env) if image else {}
        env.update(function_config(function))
        options: Dict[str, Any] = {}
        if image is not None:
            options = {"command": image.entrypoint + [env.pop("_HANDLER")], "workdir": image.working_dir}
        with Sandbox(root, env, arch=arch, **options) as sandbox:
            for (target, event_file, number), expected in answers.items():
                if target != function:
                    continue
                result = sandbox.rie.invoke(_event(HERE / "events" / event_file, function_config(function)))
                same = expected is not None and result.status == 200 and \
                    _comparable(result.body) == _comparable(expected)
                different += not same
                print("%-12s %-9s %-28s HTTP %d, %7.1f ms, %s" % (
                    what, function, os.path.normpath(event_file), result.status, result.seconds * 1000,
                    "the same answer" if same else "DIFFERENT: %s" % result.body[:200]))
    return different


def _comparable(body: bytes) -> bytes:
    """An answer without its request id (an error names the invoke it answers)."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if isinstance(value, dict):
        value.pop("requestId", None)
    return json.dumps(value).encode()


def run_image(image: Path, tmp: Path, answers: Dict[Tuple[str, str, int], bytes]) -> int:
    """The same samples from the image, one sandbox per function (its Cmd and environment,
    as each Lambda function's ImageConfig and Environment set them); the number of answers
    that differ from the layer's (request ids aside)."""
    root = tmp / "image-root"
    root.mkdir()
    config = unpack_image(image, root, tmp, host_arch())
    print("\n######## the same functions from the image %s" % image.name)
    print("root:    %s holds %s; entrypoint %s, working directory %s" % (
        root, ", ".join(sorted("/" + p.name for p in root.iterdir())), " ".join(config.entrypoint),
        config.working_dir))
    different = _compare(root, answers, "image", host_arch(), config)
    print("image: %d of %d answers as the layer gave them" % (len(answers) - different, len(answers)))
    return different


if __name__ == "__main__":
    sys.exit(main())
