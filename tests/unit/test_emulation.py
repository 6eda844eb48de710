"""emulation (local/emulation.py): ELF headers read for their machine, binfmt_misc's handler
files parsed, and ensure_emulation's decisions, against a fake binfmt_misc directory (no
root, nothing registered on this machine)."""

from __future__ import annotations

import os
import shutil
import struct
import sys
from pathlib import Path
from typing import Optional

import pytest

from bootstrap_sdk.local import emulation
from bootstrap_sdk.local.emulation import EmulationUnavailable, Handler, elf_arch, elf_machine, parse_handler

DEBIAN_HANDLER = """\
enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""
DEBIAN_CONF = (r":qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7"
               r"\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:"
               r"/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF" "\n")
X86_64_CONF = DEBIAN_CONF.replace(r"\xb7", r"\x3e").replace("aarch64", "x86_64")


def header(machine: int, e_type: int = 2, data: int = 1) -> bytes:
    """The first 20 bytes of a 64-bit ELF file (``data`` 1: little-endian, 2: big-endian)."""
    order = "<" if data == 1 else ">"
    return b"\x7fELF" + bytes([2, data, 1, 0]) + bytes(8) + struct.pack(order + "HH", e_type, machine)


def handler_text(flags: str = "POF", enabled: bool = True, interpreter: str = "/usr/bin/qemu-aarch64-static",
                 magic: str = "7f454c460201010000000000000000000200b700") -> str:
    return ("%s\ninterpreter %s\nflags: %s\noffset 0\nmagic %s\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
            % ("enabled" if enabled else "disabled", interpreter, flags, magic))


@pytest.fixture
def binfmt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake /proc/sys/fs/binfmt_misc, mounted and enabled, with nothing registered, on an
    x86_64 machine whatever this one is."""
    directory = tmp_path / "binfmt_misc"
    directory.mkdir()
    (directory / "status").write_text("enabled\n")
    (directory / "register").write_bytes(b"")
    monkeypatch.setattr(emulation, "BINFMT_MISC", str(directory))
    monkeypatch.setattr(emulation, "host_arch", lambda: "x86_64")
    return directory


def problem(arch: str = "arm64") -> str:
    with pytest.raises(EmulationUnavailable) as caught:
        emulation.ensure_emulation(arch)
    return str(caught.value)


# -- ELF headers ---------------------------------------------------------------------------------

def test_elf_headers_say_their_machine():
    assert elf_arch(header(183)) == "arm64" and elf_arch(header(62)) == "x86_64"
    assert elf_machine(header(183, data=2)) == 183  # a big-endian file's e_machine is big-endian
    assert elf_arch(header(40)) is None and elf_machine(header(40)) == 40  # 32-bit ARM: not Lambda's
    assert elf_machine(b"#!/bin/sh\n" + bytes(20)) is None
    assert elf_machine(header(183)[:19]) is None  # too short to say
    assert emulation.is_program_or_library(header(183, e_type=3))
    assert not emulation.is_program_or_library(header(183, e_type=1))  # an object file runs nowhere


# -- binfmt_misc's files ---------------------------------------------------------------------------

def test_a_handler_file_is_parsed_as_the_kernel_writes_it():
    handler = parse_handler("qemu-aarch64", DEBIAN_HANDLER)
    assert handler == Handler("qemu-aarch64", True, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P", "POF", 0,
                              bytes.fromhex("7f454c460201010000000000000000000200b700"),
                              bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff"))
    assert handler.matches(header(183)) and handler.matches(header(183, e_type=3))  # a program and a PIE
    assert not handler.matches(header(62)) and not handler.matches(header(183, e_type=1))
    disabled = parse_handler("x", DEBIAN_HANDLER.replace("enabled", "disabled", 1))
    assert disabled is not None and not disabled.enabled
    by_extension = parse_handler("x", "enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n")
    assert by_extension is not None and by_extension.magic is None and not by_extension.matches(header(183))
    assert parse_handler("status", "enabled") == Handler("status", True, "", "", 0, None, None)
    assert parse_handler("x", "") is None and parse_handler("x", "something else\n") is None
    assert parse_handler("x", DEBIAN_HANDLER.replace("magic 7f", "magic zz")) is None


def test_registered_handlers_skip_status_and_register(binfmt):
    (binfmt / "qemu-aarch64").write_text(DEBIAN_HANDLER)
    (binfmt / "python3.11").write_text("enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\n"
                                       "magic a70d0d0a\n")
    assert [h.name for h in emulation.registered_handlers()] == ["python3.11", "qemu-aarch64"]


def test_magic_and_mask_come_from_debians_line_when_it_is_aarch64s(tmp_path, monkeypatch):
    conf = tmp_path / "qemu-aarch64.conf"
    conf.write_text(DEBIAN_CONF.replace(r"\x7f\x45\x4c\x46", r"\x7fELF"))  # the same bytes, spelt otherwise
    assert emulation.magic_and_mask("arm64", str(conf))[0].startswith(r"\x7fELF\x02")
    conf.write_text(X86_64_CONF)  # not aarch64's: the constants
    constants = emulation.magic_and_mask("arm64", str(conf))
    assert constants == emulation.magic_and_mask("arm64", str(tmp_path / "absent.conf"))
    assert emulation._unescape(constants[0]) == emulation.EMULATORS["arm64"].magic
    assert emulation._unescape(constants[1]) == emulation.EMULATORS["arm64"].mask


def test_the_registration_line_fixes_the_binary_and_never_takes_credentials(monkeypatch):
    monkeypatch.setattr(emulation, "_kernel_at_least", lambda version: True)
    line = emulation.registration_line("arm64")
    name, kind, offset, magic, mask, interpreter, flags = line[1:].split(":")
    assert (name, kind, offset, interpreter) == ("qemu-aarch64", "M", "", "/usr/bin/qemu-aarch64-static")
    assert Handler(name, True, interpreter, flags, 0, emulation._unescape(magic),
                   emulation._unescape(mask)).matches(header(183))
    assert sorted(flags) == ["F", "O", "P"]
    monkeypatch.setattr(emulation, "_kernel_at_least", lambda version: False)  # before Linux 5.12: no P
    assert emulation.registration_line("arm64").endswith(":OF")


# -- ensure_emulation's decisions --------------------------------------------------------------------

def test_the_machines_own_architecture_needs_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(emulation, "BINFMT_MISC", str(tmp_path / "nowhere"))
    emulation.ensure_emulation(emulation.host_arch())
    assert emulation.emulation_problem(emulation.host_arch()) is None


def test_a_fit_handler_is_used_as_it_is(binfmt):
    (binfmt / "qemu-aarch64").write_text(DEBIAN_HANDLER)
    emulation.ensure_emulation("arm64")
    assert emulation.emulation_problem("arm64") is None
    assert (binfmt / "register").read_bytes() == b""  # nothing registered


def test_a_handler_without_f_is_refused_with_the_commands_to_fix_it(binfmt):
    (binfmt / "qemu-aarch64").write_text(handler_text(flags="P", interpreter="/usr/bin/qemu-aarch64"))
    with pytest.raises(EmulationUnavailable) as caught:
        emulation.ensure_emulation("arm64")
    message = str(caught.value)
    assert not caught.value.lacking  # something unfit is there: a test must not skip over it
    assert "without the F (fix-binary) flag" in message and "inside the sandbox's root" in message
    assert "echo -1 > %s" % (binfmt / "qemu-aarch64") in message
    assert "/usr/bin/qemu-aarch64-static:" in message and "> %s" % (binfmt / "register") in message
    assert (binfmt / "register").read_bytes() == b""  # someone else's handler: never replaced


def test_a_dynamically_linked_qemu_is_refused(binfmt):
    dynamic = shutil.which("true") or "/bin/true"
    (binfmt / "qemu-aarch64").write_text(handler_text(interpreter=os.path.realpath(dynamic)))
    message = problem()
    assert "dynamically linked" in message and "static qemu" in message


def test_a_disabled_handler_or_binfmt_misc_is_said(binfmt):
    (binfmt / "qemu-aarch64").write_text(handler_text(enabled=False))
    assert "is disabled: enable it (as root: echo 1 > %s)" % (binfmt / "qemu-aarch64") in problem()
    (binfmt / "qemu-aarch64").unlink()
    (binfmt / "status").write_text("disabled\n")
    assert "binfmt_misc is disabled on this machine" in problem()


def test_an_x86_64_handler_does_not_count_for_arm64(binfmt, monkeypatch):
    (binfmt / "qemu-x86_64").write_text(handler_text(magic="7f454c4602010100000000000000000002003e00"))
    monkeypatch.setattr(os, "geteuid", lambda: 993)
    message = problem()
    assert "only root can register one" in message and "/usr/bin/qemu-aarch64-static:" in message


def test_without_qemu_the_debian_package_is_named(binfmt, monkeypatch):
    monkeypatch.setitem(emulation.EMULATORS, "arm64",
                        emulation.EMULATORS["arm64"]._replace(interpreter="/nonexistent/qemu-aarch64-static"))
    with pytest.raises(EmulationUnavailable) as caught:
        emulation.ensure_emulation("arm64")
    message = str(caught.value)
    assert caught.value.lacking
    assert "/nonexistent/qemu-aarch64-static is not installed" in message
    assert "apt-get install qemu-user-static" in message
    assert emulation.emulation_problem("arm64") == message


def test_registering_writes_one_line_then_checks_the_kernel_took_it(binfmt, monkeypatch):
    """As root, with no handler: the line goes to ``register``; the fake kernel takes nothing,
    which is said rather than assumed."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setitem(emulation.EMULATORS, "arm64", emulation.EMULATORS["arm64"]._replace(interpreter=sys.executable))
    assert "shows no handler" in problem()
    written = (binfmt / "register").read_text()
    assert written == emulation.registration_line("arm64") and "\n" not in written
    assert written.endswith(sys.executable + ":" + emulation.registration_flags())


def test_a_missing_binfmt_misc_is_said(tmp_path, monkeypatch):
    monkeypatch.setattr(emulation, "host_arch", lambda: "x86_64")
    monkeypatch.setattr(os, "geteuid", lambda: 993)
    monkeypatch.setattr(emulation, "BINFMT_MISC", str(tmp_path / "absent"))
    assert "does not exist: this kernel has no binfmt_misc" in problem()
    (tmp_path / "absent").mkdir()  # there, but not mounted
    message = problem()
    assert "not mounted" in message and "mount -t binfmt_misc binfmt_misc %s" % (tmp_path / "absent") in message


def test_an_architecture_without_an_emulator_is_refused(binfmt):
    message: Optional[str] = emulation.emulation_problem("s390x")
    assert message is not None and "not supported" in message
