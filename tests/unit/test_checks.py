"""checks: the build checks refuse hostile trees cleanly (and never hang on a FIFO)."""

import os
import threading

from bootstrap_sdk.packaging.checks import check_tree
from bootstrap_sdk.packaging.zipper import UnsafeZip, write_zip


def finishes(function, timeout=10):
    """Run function in a thread: (finished, result or exception). A FIFO read would hang forever."""
    box = {}

    def run():
        try:
            box["result"] = function()
        except BaseException as exc:  # noqa: B902 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), box


def tree_errors(root):
    return check_tree(root, arch="x86_64", runtime="provided.al2023", needs_bootstrap=False).errors


def test_check_tree_reports_the_lexical_trick(tmp_path):
    root = tmp_path / "stage"
    (root / "x").mkdir(parents=True)
    os.symlink(".", root / "x" / "b")
    os.symlink("x/b/../..", root / "a")
    os.symlink("x/b/../y", root / "fine")
    errors = tree_errors(root)
    assert errors == ["a is a symlink to x/b/../.., which points outside the layer"]


def test_check_tree_still_refuses_absolute_and_plain_escapes(tmp_path):
    root = tmp_path / "stage"
    root.mkdir()
    os.symlink("/etc/passwd", root / "abs")
    os.symlink("../../etc/passwd", root / "up")
    os.symlink("missing/file", root / "dangling")
    os.symlink("loop", root / "loop")
    errors = tree_errors(root)
    assert "abs is a symlink to the absolute path /etc/passwd: make it relative, inside the layer" in errors
    assert "up is a symlink to ../../etc/passwd, which points outside the layer" in errors
    assert any(e.startswith("loop is a symlink to loop, which goes through more than 40 symlinks") for e in errors)
    assert len(errors) == 3


def test_check_tree_refuses_a_fifo_without_hanging(tmp_path):
    root = tmp_path / "stage"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("ok")
    os.chmod(root / "sub" / "ok.txt", 0o644)
    os.mkfifo(root / "sub" / "pipe")
    done, box = finishes(lambda: tree_errors(root))
    assert done, "check_tree hung on a FIFO"
    assert box["result"] == ["sub/pipe is a FIFO: a layer holds only files, directories and symlinks"]


def test_write_zip_refuses_a_fifo_without_hanging(tmp_path):
    root = tmp_path / "stage"
    root.mkdir()
    (root / "ok.txt").write_text("ok")
    os.mkfifo(root / "pipe")
    out = tmp_path / "out.zip"
    done, box = finishes(lambda: write_zip(root, out))
    assert done, "write_zip hung on a FIFO"
    assert isinstance(box.get("error"), UnsafeZip)
    assert "pipe is a FIFO" in str(box["error"])
    assert not out.exists() and not (tmp_path / "out.zip.partial").exists()




# -- what runs, and what it leans on ------------------------------------------------------

import shutil  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402
from native import gcc, shared  # noqa: E402

from bootstrap_sdk.packaging.checks import executable_problems  # noqa: E402
from bootstrap_sdk.packaging.elf import read_elf  # noqa: E402
from bootstrap_sdk.packaging.patch import find_patchelf  # noqa: E402

MAIN = "int main(void) { return 0; }\n"


def function_findings(root):
    return check_tree(root, "x86_64", "provided.al2023", needs_bootstrap=False, mount="/var/task")


def program(path, *args):
    """A compiled program at ``path``, without its C source beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gcc(path, MAIN, *args)
    path.with_name(path.name + ".c").unlink()
    return path


def test_a_program_on_the_os_glibc_is_warned_about_with_its_loader_and_version(tmp_path):
    program(tmp_path / "bin" / "hello")
    findings = function_findings(tmp_path)
    assert findings.errors == []
    [warning] = [w for w in findings.warnings if w.startswith("bin/hello ")]
    assert "loader /lib64/ld-linux-x86-64.so.2" in warning
    assert "provided.al2023 has 2.34" in warning
    assert "make-runtime-layer --executable" in warning and "--os-userland" in warning


def test_a_library_the_code_does_not_bring_is_named(tmp_path):
    libs = tmp_path / "libs"
    libs.mkdir()
    shared(libs / "liby.so.1", "int y(void) { return 1; }\n", "liby.so.1")
    (tmp_path / "code" / "bin").mkdir(parents=True)
    gcc(tmp_path / "code" / "bin" / "tool", "int y(void);\nint main(void) { return y(); }\n", "-L%s" % libs,
        "-l:liby.so.1")
    (tmp_path / "code" / "bin" / "tool.c").unlink()
    findings = function_findings(tmp_path / "code")
    assert any("it also needs liby.so.1, not part of glibc" in w for w in findings.warnings)
    (tmp_path / "code" / "lib").mkdir()
    shutil.copy(libs / "liby.so.1", tmp_path / "code" / "lib")  # /var/task/lib is on LD_LIBRARY_PATH
    assert not any("liby.so.1" in w for w in function_findings(tmp_path / "code").warnings)


def test_a_program_whose_loader_lambda_lacks_is_refused(tmp_path):
    musl = program(tmp_path / "bin" / "musl-ish")
    subprocess.run([find_patchelf(), "--set-interpreter", "/lib/ld-musl-x86_64.so.1", str(musl)], check=True)
    errors = function_findings(tmp_path).errors
    assert errors == ["bin/musl-ish needs the loader /lib/ld-musl-x86_64.so.1, which provided.al2023 does not "
                      "have: Lambda would fail to start it with \"No such file or directory\". Bundle it with "
                      "make-runtime-layer --executable (which brings its loader and libraries), or link it "
                      "statically"]


def test_programs_that_bring_their_loader_or_need_none_pass_quietly(tmp_path):
    program(tmp_path / "bin" / "static", "-static")
    bundled = program(tmp_path / "bin" / "bundled")
    subprocess.run([find_patchelf(), "--set-interpreter", "/opt/bootstrap-sdk/lib/ld-linux-x86-64.so.2",
                    str(bundled)], check=True)
    shared(tmp_path / "libmod.so", "int f(void) { return 1; }\n", "libmod.so")
    (tmp_path / "libmod.so.c").unlink()
    findings = function_findings(tmp_path)
    assert findings.errors == [] and findings.warnings == []


@pytest.mark.parametrize("rel, content", [
    ("bin/tool", "echo no shebang\n"),
    ("bin/sub/tool", "data"),
    ("run.sh", "#!/opt/bin/bash\necho hi\n"),
    ("hello", None),  # an ELF program
])
def test_a_file_meant_to_run_without_its_x_bit_is_warned_about(tmp_path, rel, content):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        program(path, "-static")
    else:
        path.write_text(content)
    path.chmod(0o644)
    warnings = function_findings(tmp_path).warnings
    assert ("%s is not executable (mode 644): Lambda would fail to run it with \"permission denied\" "
            "(Runtime.ExecutableNotExecutable when it is the handler); chmod 755 it" % rel) in warnings


def test_data_and_libraries_without_the_x_bit_are_fine(tmp_path):
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "lib").mkdir()
    shared(tmp_path / "lib" / "libz9.so", "int f(void) { return 1; }\n", "libz9.so").chmod(0o644)
    (tmp_path / "lib" / "libz9.so.c").unlink()
    assert function_findings(tmp_path).warnings == []


@pytest.mark.skipif(shutil.which("cobc") is None, reason="GnuCOBOL is set up by scripts/setup.sh")
def test_a_cobol_module_given_as_a_program_is_refused_with_the_cobcrun_route(tmp_path):
    source = tmp_path / "GREET.cob"
    source.write_text("       IDENTIFICATION DIVISION.\n       PROGRAM-ID. GREET.\n       PROCEDURE DIVISION.\n"
                      "           DISPLAY \"HELLO\".\n           GOBACK.\n")
    subprocess.run(["cobc", "-m", "-o", str(tmp_path / "GREET.so"), str(source)], check=True)
    [problem] = executable_problems([tmp_path / "GREET.so"])
    assert problem.startswith("%s is a loadable module (a shared library), not a program" % (tmp_path / "GREET.so"))
    assert "--executable \"$(command -v cobcrun)\"" in problem
    assert "BOOTSTRAP_SDK_EXEC_ARGS='-M /var/task/ GREET'" in problem


def test_a_library_given_as_a_program_is_refused_and_a_static_pie_accepted(tmp_path):
    library = shared(tmp_path / "libq.so", "int f(void) { return 1; }\n", "libq.so")
    [problem] = executable_problems([library])
    assert "is a loadable module (a shared library), not a program" in problem and "--library-path" in problem
    static_pie = gcc(tmp_path / "spie", MAIN, "-static-pie")
    info = read_elf(str(static_pie))
    assert info is not None and info.kind == "ET_DYN" and info.interpreter is None and info.is_program
    assert executable_problems([static_pie]) == []


def test_a_built_tree_s_bundled_files_are_told_from_host_linked_ones(tmp_path):
    """A layer handed over as a directory: what uses its own loader and libraries."""
    from bootstrap_sdk.packaging.checks import bundled_elf_files

    patchelf = find_patchelf()
    own = program(tmp_path / "bin" / "own")
    subprocess.run([patchelf, "--set-interpreter", "/opt/x/lib/ld-linux-x86-64.so.2", "--force-rpath",
                    "--set-rpath", "/opt/x/lib", str(own)], check=True)
    program(tmp_path / "bin" / "host")
    (tmp_path / "x" / "lib").mkdir(parents=True)
    for name in ("ld-linux-x86-64.so.2", "libc.so.6"):
        shutil.copy("/lib/x86_64-linux-gnu/" + name, tmp_path / "x" / "lib" / name)
    assert sorted(bundled_elf_files(tmp_path)) == ["bin/own", "x/lib/ld-linux-x86-64.so.2", "x/lib/libc.so.6"]
