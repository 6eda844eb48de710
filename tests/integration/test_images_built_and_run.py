"""make-runtime-image's images, run for real: unpacked into the Lambda-shaped sandbox and
invoked under the RIE, as run-lambda-local --image does, and started as `docker run`
starts an image (no AWS_LAMBDA_RUNTIME_API: the image's own RIE serves)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest
from hand_made_images import Member, put, sha256, tar_of

from bootstrap_sdk.local import cli as local_cli
from bootstrap_sdk.local import jail
from bootstrap_sdk.local.image_root import unpack_image
from bootstrap_sdk.local.rie import find_rie
from bootstrap_sdk.local.sandbox import SANDBOX_GID, SANDBOX_UID, Sandbox, make_root
from bootstrap_sdk.packaging import cli
from bootstrap_sdk.packaging.oci import GOARCH
from bootstrap_sdk.packaging.options import host_arch

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (chroot, mount namespaces)")

HERE = Path(__file__).parent
EXAMPLE_HANDLER = HERE.parents[1] / "examples" / "python" / "handler.py"
RUN_LAMBDA_LOCAL = str(Path(sys.executable).parent / "run-lambda-local")
BASE_READER = """\
import os


def handler(event, context):
    return {"greeting": open("/etc/base-greeting").read().strip(), "removed": os.path.exists("/etc/removed"),
            "cache": sorted(os.listdir("/var/cache/base")), "cwd": os.getcwd(), "uid": os.getuid(),
            "from_base_env": os.environ.get("BASE_SETTING")}
"""


def run_cli(function, argv: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = function(argv)
    return code, out.getvalue(), err.getvalue()


def make_image(output: Path, *argv: str) -> dict:
    code, out, err = run_cli(cli.make_runtime_image, ["-o", str(output), "--json", "-q"] + list(argv))
    assert code == 0, err
    return json.loads(out)


# -- a base image, made by hand (not by the code under test) --------------------------------

def _layer(entries: Sequence[Tuple[str, str, bytes]]) -> bytes:
    """A tar layer of (name, kind, data): kind "dir" or "file"."""
    members: List[Member] = []
    for name, kind, data in entries:
        info = tarfile.TarInfo(name)
        if kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            members.append((info, None))
        else:
            info.size, info.mode = len(data), 0o644
            members.append((info, data))
    return tar_of(members)


def base_layout(directory: Path) -> Path:
    """Two layers: the first writes /etc/base-greeting, /etc/removed and /var/cache/base/{a,b};
    the second removes /etc/removed (a whiteout) and empties /var/cache/base (an opaque
    directory) before adding c there; the config sets BASE_SETTING and a PATH."""
    tars = [_layer([("etc", "dir", b""), ("etc/base-greeting", "file", b"hello from the base\n"),
                    ("etc/removed", "file", b"x"), ("var", "dir", b""), ("var/cache", "dir", b""),
                    ("var/cache/base", "dir", b""), ("var/cache/base/a", "file", b"a"),
                    ("var/cache/base/b", "file", b"b")]),
            _layer([("etc/.wh.removed", "file", b""), ("var/cache/base/.wh..wh..opq", "file", b""),
                    ("var/cache/base/c", "file", b"c")])]
    layers = [put(directory, gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
              for raw in tars]
    config = {"architecture": GOARCH[host_arch()], "os": "linux",
              "config": {"Env": ["PATH=/base/bin", "BASE_SETTING=kept"], "Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": [sha256(raw) for raw in tars]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": put(directory, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": layers}
    index = {"schemaVersion": 2, "manifests": [put(directory, json.dumps(manifest).encode(),
                                                   "application/vnd.oci.image.manifest.v1+json")]}
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return directory


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """A Python handler's image (with the RIE), a C program's with its library, one on a base."""
    tmp = tmp_path_factory.mktemp("images")
    tmp.chmod(0o755)
    function = tmp / "function"
    function.mkdir()
    shutil.copy(EXAMPLE_HANDLER, function / "handler.py")
    (function / "base_reader.py").write_text(BASE_READER)
    make_image(tmp / "python.tar", "--function", str(function), "--handler", "handler.handler",
               "--with-rie", find_rie())
    libdir = tmp / "libs"
    libdir.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(libdir / "libgreet.so"),
                    str(HERE / "layer_programs" / "greetlib.c")], check=True)
    subprocess.run(["gcc", "-o", str(tmp / "greet"), str(HERE / "layer_programs" / "greet.c"), "-L" + str(libdir),
                    "-lgreet"], check=True)
    make_image(tmp / "greet.tar", "--executable", str(tmp / "greet"), "--library-path", str(libdir),
               "--handler", "greet")
    make_image(tmp / "on-base.tar", "--base", str(base_layout(tmp / "base")), "--function", str(function),
               "--handler", "base_reader.handler")
    return tmp


def local(*argv: str, stdin: str = "{}") -> subprocess.CompletedProcess:
    return subprocess.run([RUN_LAMBDA_LOCAL] + list(argv), input=stdin, capture_output=True, text=True, timeout=120)


def test_run_lambda_local_runs_an_images_entrypoint_and_cmd_under_the_rie(images):
    done = local("--image", str(images / "python.tar"), stdin='{"name": "image"}')
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["greeting"] == "Hello, image!" and answer["function_name"] == "local"
    assert "greeting image" in done.stderr  # the function's log, as Lambda's log stream holds it
    failed = local("--image", str(images / "python.tar"), "--quiet", stdin='{"name": 3}')
    assert failed.returncode == 1 and json.loads(failed.stdout)["errorType"] == "TypeError"


def test_handler_replaces_the_images_cmd_as_imageconfig_command_does(images):
    done = local("--image", str(images / "on-base.tar"), "--handler", "handler.handler", stdin='{"name": "cmd"}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["greeting"] == "Hello, cmd!"


def test_a_bundled_program_with_its_library_runs_from_an_image(images):
    done = local("--image", str(images / "greet.tar"), stdin="Ada\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello from libgreet, Ada!\n"


def test_the_bases_layers_lie_under_the_new_ones_with_their_whiteouts_and_env(images):
    done = local("--image", str(images / "on-base.tar"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"greeting": "hello from the base", "removed": False, "cache": ["c"],
                                       "cwd": "/var/task", "uid": SANDBOX_UID, "from_base_env": "kept"}


def test_the_image_root_is_read_only_and_unprivileged_as_on_lambda(images, tmp_path):
    root = make_root(tmp_path / "root")
    config = unpack_image(images / "python.tar", root, tmp_path, host_arch())
    assert config.entrypoint == ["/opt/bootstrap"] and config.cmd == ["handler.handler"]
    assert config.working_dir == "/var/task" and config.env["LAMBDA_TASK_ROOT"] == "/var/task"
    probe = root / "var" / "task" / "probe.py"
    os.chmod(root / "var" / "task", 0o755)
    probe.write_text("import os\n\ndef handler(event, context):\n    try:\n        open('/var/task/x', 'w')\n"
                     "        return 'writable'\n    except OSError as exc:\n"
                     "        return [exc.strerror, os.getuid(), os.getgid()]\n")
    with Sandbox(root, config.env, command=config.entrypoint + ["probe.handler"], workdir=config.working_dir) as box:
        assert box.invoke(b"{}").json() == ["Read-only file system", SANDBOX_UID, SANDBOX_GID]


def test_layers_and_a_function_zip_are_refused_with_an_image(images):
    code, _, err = run_cli(local_cli.main, ["--image", str(images / "python.tar"), "--layer", "x.zip"])
    assert code == 2 and "Lambda refuses layers on a function packaged as an image" in err
    code, _, err = run_cli(local_cli.main, ["--image", str(images / "python.tar"), "--function", "f.zip"])
    assert code == 2 and "--function with --image" in err


def test_an_image_whose_entrypoint_is_not_in_it_is_refused_as_lambda_would(images):
    """The hand-made base alone: its Cmd is /bin/sh, which it does not hold."""
    code, _, err = run_cli(local_cli.main, ["--image", str(images / "base"), "--event", "/dev/null"])
    assert code == 3
    assert "the image's entrypoint /bin/sh is not a file of the image: Lambda would fail with " \
           "Runtime.InvalidEntrypoint" in err


def test_a_program_the_cmd_names_but_the_image_lacks_is_an_init_error(images):
    bad = local("--image", str(images / "greet.tar"), "--handler", "bin/missing", stdin="x\n")
    error = json.loads(bad.stdout)
    assert bad.returncode == 1 and error["errorType"] == "Runtime.MalformedHandlerName"
    assert "Bad handler 'bin/missing'" in error["errorMessage"]


def _wait_listening(port: int, process: subprocess.Popen, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the image exited before listening"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listened on %d" % port)


def test_started_like_docker_run_the_image_serves_through_its_own_rie(images, tmp_path):
    """No AWS_LAMBDA_RUNTIME_API, the Cmd as argument, unprivileged in the image's root:
    the runtime execs /usr/local/bin/aws-lambda-rie, which listens on 8080, as AWS's base
    images do for `docker run -p 9000:8080 IMAGE`."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the RIE binds: TIME_WAIT is no owner
        try:
            probe.bind(("127.0.0.1", 8080))
        except OSError:
            pytest.skip("port 8080 is taken on this machine: the RIE in an image always listens there")
    root = make_root(tmp_path / "root")
    config = unpack_image(images / "python.tar", root, tmp_path, host_arch())
    jail.prepare_root(str(root), find_rie())
    spec = {"root": str(root), "rie": find_rie(), "uid": SANDBOX_UID, "gid": SANDBOX_GID, "tmp_mb": 512,
            "tmp_image": None, "cgroup_procs": [], "userland": False, "max_open_files": 1024,
            "parent": os.getpid(), "chdir": config.working_dir}
    log = open(tmp_path / "log", "wb")
    process = subprocess.Popen(jail.command(spec, config.entrypoint + config.cmd), env=config.env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=str(HERE.parents[1]))
    try:
        _wait_listening(8080, process)
        request = urllib.request.Request("http://127.0.0.1:8080/2015-03-31/functions/function/invocations",
                                         data=b'{"name": "docker run"}', method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["greeting"] == "Hello, docker run!"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    text = (tmp_path / "log").read_text(errors="replace")
    assert "serving invokes through /usr/local/bin/aws-lambda-rie" in text
