"""arm64 code in the local loop, on an x86_64 machine: the arm64 RIE and an arm64 bootstrap
run under qemu-user (binfmt_misc) in the same sandbox, chroot, uid 993 and all.

The bootstrap is programs_arm64/echo_bootstrap.c, cross-compiled static: the Runtime API
loop in C, answering each event uppercased. Skipped only where this machine lacks what
emulation needs (qemu-user-static, binfmt_misc, a kernel that takes the handler); a handler
registered without the F flag fails, with what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
from hand_made_images import put, sha256, tar_of

from bootstrap_sdk.local.emulation import EmulationUnavailable, ensure_emulation
from bootstrap_sdk.local.sandbox import Sandbox, lay_out
from bootstrap_sdk.packaging.options import host_arch

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (namespaces, mounts, cgroups)"),
    pytest.mark.skipif(host_arch() != "x86_64", reason="arm64 is emulated on an x86_64 machine"),
]

HERE = Path(__file__).parent
RUN_LAMBDA_LOCAL = str(Path(sys.executable).parent / "run-lambda-local")
CROSS_GCC = "aarch64-linux-gnu-gcc"
GENEROUS = 600  # seconds: qemu on a loaded machine; nothing here is timed


@pytest.fixture(scope="module")
def emulated() -> None:
    try:
        ensure_emulation("arm64")
    except EmulationUnavailable as exc:
        if exc.lacking:
            pytest.skip(str(exc))
        raise


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory, emulated) -> Path:
    """echo_bootstrap.c, static for arm64 (the compiler is set up by scripts/setup.sh)."""
    gcc = shutil.which(CROSS_GCC)
    assert gcc, "%s not found: scripts/setup.sh installs gcc-aarch64-linux-gnu" % CROSS_GCC
    out = tmp_path_factory.mktemp("arm64") / "bootstrap"
    out.parent.chmod(0o755)
    subprocess.run([gcc, "-static", "-O2", "-Wall", "-Werror", "-o", str(out),
                    str(HERE / "programs_arm64" / "echo_bootstrap.c")], check=True, timeout=GENEROUS)
    assert out.read_bytes()[18:20] == b"\xb7\x00"  # EM_AARCH64
    return out


def _zip(path: Path, files: Dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return path


@pytest.fixture(scope="module")
def arm64_layer(bootstrap) -> Path:
    """The bootstrap at the layer's root: /opt/bootstrap, mode 0755."""
    return _zip(bootstrap.parent / "echo-layer.zip", {"bootstrap": bootstrap})


def _run(argv: List[str], tmp_path: Path, **kwargs: object) -> subprocess.CompletedProcess:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return subprocess.run([RUN_LAMBDA_LOCAL] + argv, capture_output=True, text=True, timeout=GENEROUS,  # type: ignore
                          env=dict(os.environ, TMPDIR=str(scratch)), **kwargs)


def test_an_arm64_layer_runs_through_run_lambda_local(arm64_layer, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"a":1}')
    done = _run(["--layer", str(arm64_layer), "--event", str(event)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"A":1}\n'
    assert ("run-lambda-local: arm64 layer: running under qemu-aarch64 emulation (binfmt_misc)"
            in done.stderr), done.stderr
    assert "echo_bootstrap: uid 993, 7 bytes for " in done.stderr  # the function's log: as Lambda runs code
    assert os.listdir(tmp_path / "scratch") == []  # nothing left behind


def test_the_arm64_rie_and_bootstrap_run_under_qemu_in_the_sandbox(arm64_layer, tmp_path):
    """Seen from outside: both processes are qemu running the arm64 file, as uid 993."""
    root = lay_out(tmp_path / "root", [arm64_layer], None)
    with Sandbox(root, {}, timeout_s=60, arch="arm64") as box:
        assert box.host_rie.endswith(os.path.join("arm64", "aws-lambda-rie"))
        result = box.invoke(b'{"b": "two"}')
        assert (result.status, result.body) == (200, b'{"B": "TWO"}')
        emulated = {}
        for pid in box.rie.runtime_pids():
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
                argv = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
                uid = [line.split()[1] for line in Path("/proc/%d/status" % pid).read_text().splitlines()
                       if line.startswith("Uid:")][0]
            except (OSError, IndexError):
                continue
            if "qemu-aarch64" in os.path.basename(exe):
                emulated[argv[1].decode()] = uid
    assert emulated == {"/var/rapid/aws-lambda-rie": "993", "/opt/bootstrap": "993"}, emulated


def _arm64_image(layout: Path, bootstrap: Path) -> Path:
    """An image by hand: the bootstrap as /var/task/bootstrap, its entrypoint; config arm64."""
    def member(name: str, kind: bytes, data: bytes = b"") -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size = kind, 0o755, len(data)
        return info

    data = bootstrap.read_bytes()
    layer = tar_of([(member("var", tarfile.DIRTYPE), None), (member("var/task", tarfile.DIRTYPE), None),
                    (member("var/task/bootstrap", tarfile.REGTYPE, data), data)])
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = {"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
              "config": {"Entrypoint": ["/var/task/bootstrap"], "WorkingDir": "/var/task"}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": put(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": [put(layout, layer, "application/vnd.oci.image.layer.v1.tar")]}
    index = {"schemaVersion": 2, "manifests": [
        put(layout, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")]}
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def test_an_arm64_image_runs_by_its_configs_architecture(bootstrap, tmp_path):
    image = _arm64_image(tmp_path / "image", bootstrap)
    done = _run(["--image", str(image), "--event", "-"], tmp_path, input='{"c": [3]}')
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"C": [3]}\n'
    assert "run-lambda-local: arm64 image: running under qemu-aarch64 emulation" in done.stderr


def test_an_arm64_layer_with_an_x86_64_function_is_refused_both_named(arm64_layer, tmp_path):
    function = _zip(tmp_path / "function.zip", {"bin/true": Path(os.path.realpath(shutil.which("true") or ""))})
    done = _run(["--layer", str(arm64_layer), "--function", str(function), "--event", "-"], tmp_path,
                input="{}")
    assert done.returncode == 3, done.stderr
    assert ("run-lambda-local: error: --layer %s is arm64 (bootstrap) but --function %s is x86_64 (bin/true): "
            "Lambda runs a function on one architecture" % (arm64_layer, function)) in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert os.listdir(tmp_path / "scratch") == []
