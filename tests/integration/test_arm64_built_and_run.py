"""arm64 layers, programs and images built on this x86_64 machine and run for real: the
arm64 RIE starts them under qemu-user (binfmt_misc) in the same Lambda-shaped sandbox,
as uid 993 over read-only code. Emulation is slow: few tests, each doing a lot.

They skip, saying why, only where the sysroot, the cross compiler or qemu is missing
(scripts/setup.sh provides them) or where the kernel refuses binfmt_misc.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from arm64_sysroot import CROSS_CC, SYSROOT, missing, require_arm64_build
from bootstrap_sdk.local.emulation import EmulationUnavailable, ensure_emulation
from bootstrap_sdk.local.image_root import unpack_image
from bootstrap_sdk.local.sandbox import Sandbox, lay_out, make_root
from bootstrap_sdk.packaging import cli
from bootstrap_sdk.packaging.elf import read_elf
from bootstrap_sdk.packaging.options import host_arch

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "examples" / "cobol"
sys.path.insert(0, str(EXAMPLE))

import build  # noqa: E402
import run  # noqa: E402

from test_cobol_example import decimal_json, expected_pay  # noqa: E402


def _why_not() -> str:
    """Why these tests cannot run here at all: the only reasons to skip them."""
    if os.geteuid() != 0:
        return "the sandbox needs root (chroot, mount namespaces)"
    if host_arch() != "x86_64":
        return "these tests cross-build for arm64 from x86_64"
    if missing():
        return ""  # what scripts/setup.sh provides is missing: the tests fail, saying what
    try:
        ensure_emulation("arm64")
    except EmulationUnavailable as exc:
        return str(exc) if exc.lacking else ""  # an unfit handler is a failure to see
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not())


@pytest.fixture(autouse=True)
def arm64_tools() -> None:
    require_arm64_build()


MACHINE_HANDLER = '''import os, sys


def handler(event, context):
    return {"machine": os.uname().machine, "python": sys.version.split()[0], "uid": os.getuid(),
            "echo": event, "opt_writable": os.access("/opt", os.W_OK)}
'''


def run_cli(function, argv: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = function(argv)
    return code, out.getvalue(), err.getvalue()


def local(argv: List[str], event: str) -> "subprocess.CompletedProcess[str]":
    """run-lambda-local as a user runs it: the installed console script, the event on stdin."""
    command = str(Path(sys.executable).parent / "run-lambda-local")
    return subprocess.run([command] + argv, input=event, capture_output=True, text=True, timeout=600)


def layer(out: Path, *extra: str) -> Dict[str, Any]:
    code, stdout, stderr = run_cli(cli.make_runtime_layer, ["-o", str(out), "--json", "-q", "--arch", "arm64",
                                                            "--sysroot", str(SYSROOT)] + list(extra))
    assert code == 0, stderr
    return json.loads(stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """An arm64 runtime-only layer, a Python function, and a layer bundling an arm64 C
    program linked to an arm64 shared library (all cross-built here)."""
    tmp = tmp_path_factory.mktemp("arm64")
    tmp.chmod(0o755)
    layer(tmp / "runtime.zip")
    function = tmp / "function"
    function.mkdir()
    (function / "machine.py").write_text(MACHINE_HANDLER)
    assert run_cli(cli.make_function_zip, [str(function), "-o", str(tmp / "function.zip"), "-q",
                                           "--arch", "arm64"])[0] == 0
    libs = tmp / "libs"
    libs.mkdir()
    subprocess.run([CROSS_CC, "-shared", "-fPIC", "-o", str(libs / "libgreet.so"),
                    str(HERE / "layer_programs" / "greetlib.c")], check=True)
    subprocess.run([CROSS_CC, "-o", str(tmp / "greet"), str(HERE / "layer_programs" / "greet.c"), "-L" + str(libs),
                    "-lgreet", "-Wl,--enable-new-dtags,-rpath," + str(libs)], check=True)
    layer(tmp / "with-greet.zip", "--executable", str(tmp / "greet"), "--library-path", str(libs))
    empty = tmp / "empty"
    empty.mkdir()
    (empty / "README").write_text("the program is in the layer\n")
    assert run_cli(cli.make_function_zip, [str(empty), "-o", str(tmp / "empty.zip"), "-q", "--arch", "arm64"])[0] == 0
    return tmp


def test_the_arm64_runtime_layer_runs_a_python_handler_under_emulation(built, tmp_path):
    """run-lambda-local finds the architecture in the zips (no flag), and the handler runs
    on aarch64, unprivileged, over a read-only /opt."""
    manifest = json.loads((built / "runtime.manifest.json").read_text())
    assert manifest["compatible_architectures"] == ["arm64"]
    assert "--compatible-architectures arm64" in manifest["publish_command"]
    assert any(p.startswith("python3.11-minimal=") for p in manifest["sysroot"]["packages"])
    done = local(["--layer", str(built / "runtime.zip"), "--function", str(built / "function.zip"), "--handler",
                  "machine.handler", "--quiet"], '{"n": 1}')
    assert done.returncode == 0, done.stderr
    assert "running under qemu-aarch64" in done.stderr
    answer = json.loads(done.stdout)
    assert answer == {"machine": "aarch64", "python": answer["python"], "uid": 993, "echo": {"n": 1},
                      "opt_writable": False}
    assert answer["python"].startswith("3.11.")


def test_one_command_builds_a_layer_per_architecture_each_as_built_alone(built, tmp_path):
    """Two --arch: two zips, two manifests and publish commands; each zip byte for byte the
    one a build for that architecture alone gives (reproducible across commands)."""
    code, out, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "runtime.zip"), "--json", "-q", "--arch",
                                                      "x86_64", "--arch", "arm64", "--sysroot", str(SYSROOT)])
    assert code == 0, err
    x86, arm = json.loads(out)
    assert (x86["name"], x86["compatible_architectures"]) == ("bootstrap-sdk-runtime-x86_64", ["x86_64"])
    assert (arm["name"], arm["compatible_architectures"]) == ("bootstrap-sdk-runtime-arm64", ["arm64"])
    assert "--layer-name bootstrap-sdk-runtime-arm64 " in arm["publish_command"]
    assert "--compatible-architectures arm64 " in arm["publish_command"] and "sysroot" not in x86
    assert (tmp_path / "runtime-arm64.zip").read_bytes() == (built / "runtime.zip").read_bytes()
    assert run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "alone.zip"), "-q", "--arch", "x86_64"])[0] == 0
    assert (tmp_path / "runtime-x86_64.zip").read_bytes() == (tmp_path / "alone.zip").read_bytes()
    for arch, manifest in (("x86_64", x86), ("arm64", arm)):
        written = json.loads((tmp_path / ("runtime-%s.manifest.json" % arch)).read_text())
        assert written == manifest


def test_a_cross_compiled_program_runs_with_its_shared_library_whatever_the_root_holds(built, tmp_path):
    """The C program and libgreet are arm64, patched to the layer's own aarch64 loader and
    DT_RPATH; hostile libraries where an arm64 system keeps glibc are never loaded."""
    root = lay_out(tmp_path / "root", [built / "with-greet.zip"], built / "empty.zip")
    program = read_elf(str(root / "opt" / "bin" / "greet"))
    assert program is not None and program.machine == "EM_AARCH64"
    assert program.interpreter == "/opt/bootstrap-sdk/lib/ld-linux-aarch64.so.1"
    assert program.rpath == ("/opt/bootstrap-sdk/lib",) and program.runpath == ()
    bundled = sorted(os.listdir(root / "opt" / "bootstrap-sdk" / "lib"))
    assert {"libgreet.so", "libc.so.6", "ld-linux-aarch64.so.1"} <= set(bundled)
    for name in bundled:
        info = read_elf(str(root / "opt" / "bootstrap-sdk" / "lib" / name))
        assert info is not None and info.machine == "EM_AARCH64", name
    hostile = b"\x7fELF this is not a library at all"
    for rel in ("lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/libc.so.6", "usr/lib/aarch64-linux-gnu/libc.so.6",
                "lib64/libc.so.6", "opt/lib/libgreet.so", "var/task/lib/libm.so.6"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(hostile)
    with Sandbox(root, {"_HANDLER": "greet"}, arch="arm64") as sandbox:
        assert sandbox.rie.invoke(b"Ada\n").body == b"Hello from libgreet, Ada!\n"
        assert sandbox.rie.invoke(b"Grace\n").body == b"Hello from libgreet, Grace!\n"


def test_the_cobol_example_cross_built_pays_as_computed_in_stdio_call_mode_and_the_image(tmp_path_factory):
    """examples/cobol/build.py --arch arm64: PAYROLL through stdio, PAYCALC CALLed in the
    warm host (cross-compiled against the sysroot's libcob), and the arm64 image."""
    out = tmp_path_factory.mktemp("cobol-arm64")
    out.chmod(0o755)
    built = build.build(out, arch="arm64")
    manifest = json.loads((out / "cobol-runtime.manifest.json").read_text())
    assert manifest["compatible_architectures"] == ["arm64"] and "libcob.so.4" in manifest["bundled_libraries"]
    root = lay_out(out / "root", [built["layer"]], built["function"])
    host = read_elf(str(root / "opt" / "bootstrap-sdk" / "bin" / "cobol-call-host"))
    assert host is not None and host.machine == "EM_AARCH64" and "libcob.so.4" in host.needed
    week = decimal_json((EXAMPLE / "events" / "good-week.json").read_bytes())
    overtime = decimal_json((EXAMPLE / "events" / "overtime.json").read_bytes())
    abend = (EXAMPLE / "events" / "abend.json").read_bytes()
    answers = {}
    for function in ("payroll", "paycalc"):
        with Sandbox(root, run.function_config(function), arch="arm64") as sandbox:
            for name, employee in (("week", week), ("overtime", overtime)):
                body = sandbox.rie.invoke(json.dumps(employee, default=str).encode()).body
                assert decimal_json(body) == expected_pay(employee), (function, name, body)
                answers[(function, name)] = body
            error = decimal_json(sandbox.rie.invoke(abend).body)
            assert error["errorType"] in ("Executable.ExitCode16", "Executable.ReturnCode16"), function
            assert "DIVIDE BY ZERO, DAYS WORKED = 0" in error["errorMessage"]
    image_root = make_root(tmp_path_factory.mktemp("image") / "root")
    config = unpack_image(built["image"], image_root, out, "arm64")
    env = dict(config.env, **run.function_config("paycalc"))
    with Sandbox(image_root, env, command=config.entrypoint + [env.pop("_HANDLER")], workdir=config.working_dir,
                 arch="arm64") as sandbox:
        assert sandbox.rie.invoke(json.dumps(overtime, default=str).encode()).body == answers[("paycalc", "overtime")]


def test_inputs_of_both_architectures_are_refused_every_one_named(built, tmp_path):
    """An x86_64 program in an arm64 layer or function, or an arm64 layer with an x86_64
    function: refused before anything is written or run."""
    native = tmp_path / "native-greet"
    subprocess.run(["gcc", "-o", str(native), str(HERE / "layer_programs" / "greet.c"),
                    str(HERE / "layer_programs" / "greetlib.c")], check=True)
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "mixed.zip"), "-q", "--arch", "arm64",
                                                    "--sysroot", str(SYSROOT), "--executable", str(native),
                                                    "--executable", str(built / "greet"), "--library-path",
                                                    str(built / "libs")])
    assert code == 3 and not (tmp_path / "mixed.zip").exists()
    assert "bin/native-greet is built for EM_X86_64, not arm64" in err
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "x.zip"), "-q", "--arch", "arm64",
                                                    "--sysroot", str(SYSROOT), "--library-path", str(tmp_path),
                                                    "--executable", str(native), "--include",
                                                    "%s:share/native" % native])
    assert code == 3 and err.count("is built for EM_X86_64, not arm64") == 2, err
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    shutil.copy(native, code_dir / "tool")
    shutil.copy(built / "greet", code_dir / "greet")
    code, _, err = run_cli(cli.make_function_zip, [str(code_dir), "-o", str(tmp_path / "f.zip"), "--arch", "arm64"])
    assert code == 3 and "tool is built for EM_X86_64, not arm64" in err and "greet" not in err
    code, _, err = run_cli(cli.make_function_zip, [str(code_dir), "-o", str(tmp_path / "f.zip"), "--arch", "x86_64"])
    assert code == 3 and "greet is built for EM_AARCH64, not x86_64" in err and "tool is" not in err
    native_zip = tmp_path / "native.zip"
    (code_dir / "greet").unlink()
    assert run_cli(cli.make_function_zip, [str(code_dir), "-o", str(native_zip), "-q"])[0] == 0
    done = local(["--layer", str(built / "runtime.zip"), "--function", str(native_zip), "--handler", "tool"], "{}")
    assert done.returncode == 3, done.stderr
    assert str(built / "runtime.zip") in done.stderr and str(native_zip) in done.stderr
