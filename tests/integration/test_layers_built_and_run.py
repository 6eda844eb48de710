"""make-runtime-layer, make-function-zip and run-lambda-local, built and run for real.

Layers are extracted with ``unzip`` into an empty root that holds nothing but /opt,
/var/task and /tmp (plus the kernel's /dev and /proc), and run there under the RIE.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import List, Tuple

import pytest

from bootstrap_sdk.local import cli as local_cli
from bootstrap_sdk.local.sandbox import Sandbox, make_root
from bootstrap_sdk.packaging import cli
from bootstrap_sdk.packaging.elf import read_elf

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (chroot, mount namespaces)")

HERE = Path(__file__).parent
EXAMPLE_HANDLER = HERE.parents[1] / "examples" / "python" / "handler.py"


def run_cli(function, argv: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = function(argv)
    return code, out.getvalue(), err.getvalue()


def build(tmp: Path, name: str, *extra: str) -> Tuple[Path, dict]:
    output = tmp / ("%s.zip" % name)
    code, out, err = run_cli(cli.make_runtime_layer, ["-o", str(output), "--json", "-q"] + list(extra))
    assert code == 0, err
    return output, json.loads(out)


def unzip(zip_path: Path, destination: Path) -> None:
    subprocess.run(["unzip", "-q", "-o", str(zip_path), "-d", str(destination)], check=True)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Artefacts shared by the tests: a runtime-only layer, a function zip, a C program."""
    tmp = tmp_path_factory.mktemp("built")
    tmp.chmod(0o755)
    build(tmp, "runtime")
    function_dir = tmp / "function"
    function_dir.mkdir()
    shutil.copy(EXAMPLE_HANDLER, function_dir / "handler.py")
    assert run_cli(cli.make_function_zip, [str(function_dir), "-o", str(tmp / "function.zip"), "-q"])[0] == 0
    libdir = tmp / "libs"
    libdir.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(libdir / "libgreet.so"), str(HERE / "layer_programs" /
                    "greetlib.c")], check=True)
    # A build-host RUNPATH, as a real build leaves: the layer must drop it.
    subprocess.run(["gcc", "-o", str(tmp / "greet"), str(HERE / "layer_programs" / "greet.c"), "-L" + str(libdir),
                    "-lgreet", "-Wl,--enable-new-dtags,-rpath," + str(libdir)], check=True)
    build(tmp, "with-greet", "--executable", str(tmp / "greet"), "--library-path", str(libdir))
    empty = tmp / "empty-function"
    empty.mkdir()
    (empty / "README").write_text("the program lives in the layer\n")
    assert run_cli(cli.make_function_zip, [str(empty), "-o", str(tmp / "empty-function.zip"), "-q"])[0] == 0
    return tmp


def empty_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return make_root(root)


def test_runtime_layer_runs_a_python_handler_in_an_empty_root(built, tmp_path):
    root = empty_root(tmp_path)
    unzip(built / "runtime.zip", root / "opt")
    unzip(built / "function.zip", root / "var" / "task")
    assert sorted(p.name for p in root.iterdir()) == ["opt", "tmp", "var"]
    assert stat.S_IMODE((root / "opt" / "bootstrap").stat().st_mode) == 0o755
    assert (root / "opt" / "bootstrap").read_text().startswith("#!/opt/bootstrap-sdk/python/bin/python3")
    for path in (root / "opt").rglob("*"):
        assert path.is_symlink() or path.stat().st_mode & 0o444 == 0o444, path
    log = tmp_path / "log"
    with open(log, "wb") as handle, Sandbox(root, {"_HANDLER": "handler.handler"}, log=handle) as sandbox:
        result = sandbox.rie.invoke(b'{"name": "layer"}')
        error = sandbox.rie.invoke(b'{"name": 7}')
    assert result.json()["greeting"] == "Hello, layer!"
    assert error.json()["errorType"] == "TypeError"
    assert "greeting layer" in log.read_text()


def test_bundled_c_program_with_its_shared_library(built, tmp_path):
    root = empty_root(tmp_path)
    unzip(built / "with-greet.zip", root / "opt")
    unzip(built / "empty-function.zip", root / "var" / "task")
    program = read_elf(str(root / "opt" / "bin" / "greet"))
    assert program is not None
    assert program.interpreter == "/opt/bootstrap-sdk/lib/ld-linux-x86-64.so.2"
    assert program.rpath == ("/opt/bootstrap-sdk/lib",) and program.runpath == ()
    library = read_elf(str(root / "opt" / "bootstrap-sdk" / "lib" / "libgreet.so"))
    assert library is not None and library.runpath == ()
    assert not (root / "opt" / "lib").exists(), "nothing in /opt/lib, which is on every process's path"
    with Sandbox(root, {"_HANDLER": "greet"}) as sandbox:
        assert sandbox.rie.invoke(b"Ada\n").body == b"Hello from libgreet, Ada!\n"


def test_layer_works_with_hostile_libraries_on_lambdas_library_path(built, tmp_path):
    root = empty_root(tmp_path)
    unzip(built / "with-greet.zip", root / "opt")
    unzip(built / "function.zip", root / "var" / "task")
    hostile = b"\x7fELF this is not a library at all"
    for rel in ("lib64/libc.so.6", "usr/lib64/libc.so.6", "opt/lib/libgreet.so", "var/task/lib/libm.so.6"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(hostile)
    with Sandbox(root, {"_HANDLER": "handler.handler"}) as sandbox:
        assert sandbox.rie.invoke(b'{"name": "hostile"}').json()["greeting"] == "Hello, hostile!"
    with Sandbox(root, {"_HANDLER": "greet"}) as sandbox:
        assert sandbox.rie.invoke(b"Eve\n").body == b"Hello from libgreet, Eve!\n"


def test_rebuild_is_byte_identical(built, tmp_path):
    again, manifest = build(tmp_path, "runtime")
    first = hashlib.sha256((built / "runtime.zip").read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == first == manifest["sha256"]
    with zipfile.ZipFile(again) as archive:
        names = [i.filename for i in archive.infolist()]
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert modes["bootstrap"] == stat.S_IFREG | 0o755
    assert modes["bootstrap-sdk/python/lib/python3.11/os.pyc"] == stat.S_IFREG | 0o644


def test_source_date_epoch_sets_the_timestamps(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    output, _ = build(tmp_path, "dated")
    with zipfile.ZipFile(output) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_manifest_has_what_publishing_needs(built):
    manifest = json.loads((built / "runtime.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((built / "runtime.zip").read_bytes()).hexdigest()
    assert manifest["compatible_runtimes"] == ["provided.al2023"]
    assert manifest["compatible_architectures"] == ["x86_64"]
    assert manifest["zipped_bytes"] == (built / "runtime.zip").stat().st_size
    assert manifest["unzipped_bytes"] + manifest["unzipped_budget_left_bytes"] == 262_144_000
    command = manifest["publish_command"]
    assert command.startswith("aws lambda publish-layer-version --layer-name bootstrap-sdk-runtime")
    assert "--compatible-runtimes provided.al2023" in command and "fileb://" in command
    assert "Type: AWS::Lambda::LayerVersion" in manifest["cloudformation"]
    assert "Type: AWS::Serverless::LayerVersion" in manifest["sam"]
    assert "libc.so.6" in manifest["bundled_libraries"]


# -- checks: every bad input is refused with a clear message --------------------------------

def _aarch64_elf(path: Path) -> Path:
    data = bytearray(Path("/bin/true").read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    path.write_bytes(bytes(data))
    path.chmod(0o755)
    return path


def refused(tmp_path: Path, *extra: str) -> str:
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "out.zip"), "-q"] + list(extra))
    assert code == 3, err
    assert not (tmp_path / "out.zip").exists(), "nothing is written when a check fails"
    return err


def test_refuses_a_layer_over_250_mb(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(262_144_001)
    err = refused(tmp_path, "--include", "%s:data/big.bin" % big)
    assert "exceeds Lambda's 262.1 MB limit" in err


def test_refuses_an_elf_file_for_another_architecture(tmp_path):
    foreign = _aarch64_elf(tmp_path / "tool")
    assert "bin/tool is built for EM_AARCH64, not x86_64" in refused(tmp_path, "--executable", str(foreign))
    assert "data/tool is built for EM_AARCH64, not x86_64" in refused(tmp_path, "--include", "%s:data/tool" % foreign)


def test_refuses_an_unreadable_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("key")
    secret.chmod(0o600)
    assert "secret.txt is not world-readable (mode 600)" in refused(tmp_path, "--include", str(secret))


def test_refuses_a_symlink_out_of_the_layer(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.txt").write_text("fine")
    os.symlink("../../../etc/passwd", tree / "passwd")
    err = refused(tmp_path, "--include", "%s:share/tree" % tree)
    assert "share/tree/passwd is a symlink to ../../../etc/passwd, which points outside the layer" in err


def test_refuses_absolute_and_dotdot_destinations(tmp_path):
    (tmp_path / "f").write_text("x")
    err = refused(tmp_path, "--include", "%s:/etc/f" % (tmp_path / "f"), "--include", "%s:../f" % (tmp_path / "f"))
    assert "'/etc/f': layer paths are relative" in err and "'../f': '..' would leave the layer" in err


def test_refuses_executables_that_are_not_programs(tmp_path):
    data = tmp_path / "table.dat"
    data.write_text("x")
    err = refused(tmp_path, "--executable", str(data), "--executable", str(tmp_path),
                  "--executable", str(tmp_path / "missing"))
    assert "table.dat is not executable (mode 644)" in err
    assert "is not a file: --executable takes programs" in err
    assert "missing: no such file (for --executable)" in err


def test_run_lambda_local_refuses_a_file_that_is_not_a_zip(tmp_path):
    fake = tmp_path / "layer.zip"
    fake.write_text("not a zip")
    code, _, err = run_cli(local_cli.main, ["--layer", str(fake), "--event", "/dev/null"])
    assert code == 3 and "layer.zip is not a zip file" in err


def test_refuses_a_missing_or_non_executable_bootstrap(tmp_path):
    assert "no such file (for bootstrap)" in refused(tmp_path, "--bootstrap", str(tmp_path / "missing"))
    plain = tmp_path / "bootstrap"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    assert "bootstrap is not executable (mode 644)" in refused(tmp_path, "--bootstrap", str(plain))


def test_scripts_that_lean_on_the_os_are_warned_about(tmp_path):
    from bootstrap_sdk.packaging.checks import check_tree

    tree = tmp_path / "layer"
    (tree / "bin").mkdir(parents=True)
    scripts = {"bootstrap": "#!/bin/sh\n", "bin/own": "#!/opt/bin/tool -x\n", "bin/tool": "#!/usr/bin/env bash\n",
               "bin/elsewhere": "#!/opt/bin/missing\n", "bin/py": "#!/usr/bin/python3\n",
               "bin/fn": "#!/var/task/run\n", "bin/data.txt": "#!/bin/sh but not executable\n"}
    for name, text in scripts.items():
        (tree / name).write_text(text)
        (tree / name).chmod(0o644 if name.endswith(".txt") else 0o755)
    warnings = check_tree(tree, "x86_64", "provided.al2023").warnings
    assert len(warnings) == 5, warnings
    # A #! file under bin/ without its x bit is meant to run: Lambda would answer "permission denied".
    assert any(w.startswith("bin/data.txt is not executable (mode 644)") for w in warnings)
    assert any(w.startswith("bootstrap starts with '#!/bin/sh': provided.al2023 has it") and "--os-userland" in w
               for w in warnings)
    assert any(w.startswith("bin/tool starts with '#!/usr/bin/env'") for w in warnings)
    assert any(w.startswith("bin/elsewhere starts with '#!/opt/bin/missing', which this tree does not hold")
               for w in warnings)
    assert any(w.startswith("bin/py starts with '#!/usr/bin/python3', which neither this tree nor provided.al2023")
               for w in warnings)
    as_function = check_tree(tree, "x86_64", "provided.al2023", needs_bootstrap=False, mount="/var/task").warnings
    assert any(w.startswith("bin/fn starts with '#!/var/task/run', which this tree does not hold")
               for w in as_function)


def test_refuses_programs_needing_a_newer_glibc_than_the_target(built, tmp_path):
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "al2.zip"), "-q", "--runtime",
                                                    "provided.al2", "--system-libc"])
    assert code == 3
    assert "needs GLIBC_2.3" in err and "provided.al2 has glibc 2.26" in err


def test_al2_builds_with_an_end_of_life_warning(tmp_path):
    code, _, err = run_cli(cli.make_runtime_layer, ["-o", str(tmp_path / "al2.zip"), "-q", "--runtime",
                                                    "provided.al2"])
    assert code == 0
    assert "provided.al2 is past end of life" in err and "2026-06-30" in err


def test_help_is_complete():
    text = cli.layer_parser().format_help()
    for option in ("--runtime", "--arch", "--executable", "--include", "--python", "--stdlib", "--stdlib-module",
                   "--name", "--description", "--license", "--output", "--quiet", "--json", "--system-libc"):
        assert option in text


def test_function_zip_uses_the_same_rules(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handler(e, c):\n    return e\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o700)
    code, out, err = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip"), "--json", "-q"])
    assert code == 3 and "run.sh is not world-readable (mode 700)" in err
    (source / "run.sh").chmod(0o755)
    code, out, _ = run_cli(cli.make_function_zip, [str(source), "-o", str(tmp_path / "f.zip"), "--json", "-q"])
    assert code == 0 and json.loads(out)["files"] == 2
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        assert archive.getinfo("run.sh").external_attr >> 16 == stat.S_IFREG | 0o755


def test_function_zip_refuses_a_fifo_instead_of_hanging(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handler(e, c):\n    return e\n")
    os.mkfifo(source / "pipe")
    done = subprocess.run([str(Path(sys.executable).parent / "make-function-zip"), str(source), "-o",
                           str(tmp_path / "f.zip"), "-q"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "pipe is a FIFO: a layer holds only files, directories and symlinks" in done.stderr
    assert not (tmp_path / "f.zip").exists()


# -- the local loop ---------------------------------------------------------------------------

def test_run_lambda_local_invokes_with_an_event_file(built, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"name": "local"}')
    command = str(Path(sys.executable).parent / "run-lambda-local")  # the installed console script
    common = ["--layer", str(built / "runtime.zip"), "--function", str(built / "function.zip"),
              "--handler", "handler.handler"]
    done = subprocess.run([command] + common + ["--event", str(event)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["greeting"] == "Hello, local!"
    assert "greeting local" in done.stderr
    piped = subprocess.run([command] + common + ["--quiet"], input='{"name": 5}', capture_output=True, text=True)
    assert piped.returncode == 1, "an error response exits 1"
    assert json.loads(piped.stdout)["errorType"] == "TypeError" and piped.stderr == ""


def test_run_lambda_local_refuses_six_layers(built):
    code, _, err = run_cli(local_cli.main, ["--layer", str(built / "runtime.zip")] * 6 + ["--event", "/dev/null"])
    assert code == 3 and "6 layers: a function can use at most 5" in err


def test_run_lambda_local_refuses_over_250_mb_unzipped(built, tmp_path):
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("zeros.bin", "w") as entry:
            block = bytes(1 << 20)
            for _ in range(251):
                entry.write(block)
    code, _, err = run_cli(local_cli.main, ["--layer", str(built / "runtime.zip"), "--function", str(huge),
                                            "--event", "/dev/null"])
    assert code == 3 and "over Lambda's 262.1 MB limit" in err


def test_run_lambda_local_without_a_bootstrap(built):
    code, _, err = run_cli(local_cli.main, ["--function", str(built / "function.zip"), "--event", "/dev/null"])
    assert code == 3 and "Runtime.InvalidEntrypoint" in err


def test_run_lambda_local_keeps_serving(built):
    from bootstrap_sdk.local.rie import Invoker, free_port

    port = free_port()
    command = [str(Path(sys.executable).parent / "run-lambda-local"), "--layer", str(built / "runtime.zip"),
               "--function", str(built / "function.zip"), "--handler", "handler.handler", "--serve",
               "--port", str(port), "--quiet"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving: curl" in (server.stderr.readline() if server.stderr else "")
        invoker = Invoker(port)
        names = [invoker.invoke(json.dumps({"name": n}).encode()).json()["greeting"] for n in ("a", "b", "c")]
        assert names == ["Hello, a!", "Hello, b!", "Hello, c!"]
    finally:
        server.terminate()
        assert server.wait(20) == 0


def test_zip_over_50_mb_is_a_warning_with_the_s3_route():
    from bootstrap_sdk.packaging.checks import Findings, check_zipped_size
    from bootstrap_sdk.packaging.manifest import layer_manifest

    findings = Findings()
    check_zipped_size(52_428_801, findings)
    assert findings.errors == [] and "upload it to S3" in findings.warnings[0]
    manifest = layer_manifest(name="big", description="d", license="MIT", zip_path=Path("big.zip"), sha256="00" * 32,
                              zipped_bytes=52_428_801, unzipped_bytes=1, budget_left=1, runtimes=["provided.al2023"],
                              architectures=["x86_64"], python="3.11", files=1, bundled_libraries=[], warnings=[])
    assert ('--content S3Bucket="${S3_BUCKET:?set S3_BUCKET to the S3 bucket that holds the zip}",S3Key=big.zip'
            in manifest["publish_command"])
    assert "--license-info MIT" in manifest["publish_command"]


def test_origin_relative_runpath_is_followed_from_where_the_program_was(built, tmp_path):
    """A program found its libraries through $ORIGIN at home: the layer's closure must too."""
    bindir = built / "bin"
    bindir.mkdir(exist_ok=True)
    subprocess.run(["gcc", "-o", str(bindir / "greet-origin"), str(HERE / "layer_programs" / "greet.c"),
                    "-L" + str(built / "libs"), "-lgreet", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../libs"],
                   check=True)
    output, manifest = build(tmp_path, "origin", "--executable", str(bindir / "greet-origin"))
    assert "libgreet.so" in manifest["bundled_libraries"]
    root = empty_root(tmp_path)
    unzip(output, root / "opt")
    unzip(built / "empty-function.zip", root / "var" / "task")
    with Sandbox(root, {"_HANDLER": "greet-origin"}) as sandbox:
        assert sandbox.rie.invoke(b"Origin\n").body == b"Hello from libgreet, Origin!\n"


CP1047_HANDLER = '''\
from bootstrap_sdk.copybook import Copybook, DataEncoding

BOOK = Copybook.parse("       01  R.\\n           05  R-TEXT PIC X(4).\\n           05  R-N PIC S9(3).\\n",
                      encoding=DataEncoding("cp1047"))


def handler(event, context):
    value = BOOK.decode(bytes.fromhex(event["hex"]))
    return {"text": value["text"], "n": str(value["n"]), "back": BOOK.encode(value).hex()}
'''


def test_the_layer_reads_cp1047_records_with_the_codec_it_ships(built, tmp_path):
    """cp1047, the one code page the standard library lacks, comes from the ebcdic package
    the layer ships beside the runtime: decoded in the layer's own minimal Python, in a
    root that holds nothing else. '[' is AD and ']' BD in cp1047 (BA, BB in cp037)."""
    function_dir = tmp_path / "function"
    function_dir.mkdir()
    (function_dir / "records.py").write_text(CP1047_HANDLER)
    assert run_cli(cli.make_function_zip, [str(function_dir), "-o", str(tmp_path / "f.zip"), "-q"])[0] == 0
    root = empty_root(tmp_path)
    unzip(built / "runtime.zip", root / "opt")
    unzip(tmp_path / "f.zip", root / "var" / "task")
    assert (root / "opt" / "bootstrap-sdk" / "sdk" / "ebcdic" / "LICENSE.txt").is_file()
    with Sandbox(root, {"_HANDLER": "records.handler"}) as sandbox:
        result = sandbox.rie.invoke(b'{"hex": "ad8182bdf0f1d2"}')
    assert result.json() == {"text": "[ab]", "n": "-12", "back": "ad8182bdf0f1d2"}
