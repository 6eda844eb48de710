"""Running another architecture's programs in the sandbox: qemu-user through binfmt_misc.

Lambda runs a function on x86_64 or arm64. On an x86_64 machine, an arm64 layer, function
or image runs here under ``qemu-aarch64-static`` (Debian's qemu-user-static): the kernel's
binfmt_misc hands every aarch64 ELF program that is exec'd to it, the RIE included, so the
sandbox, its chroot, uid 993 and its cgroup stay exactly as for the host's architecture.

The handler must have the F (fix-binary) flag: the kernel then opens the interpreter once,
when the handler is registered, and uses that open file for every program. Without it the
kernel looks the interpreter's path up when each program starts, inside the sandbox's
chroot, which holds no qemu: every arm64 program would fail there with ENOENT. And it must
be a static qemu: a dynamic one's own loader is looked up in the chroot too.

``ensure_emulation`` uses a handler that is already there when it is fit, refuses one that
is not (it is someone else's: never silently replaced), and registers its own otherwise
(as root). The registration is machine-wide and stays, as Debian's own would: any aarch64
program on this machine then runs under qemu, which is what installing qemu-user-static
with systemd or binfmt-support does anyway.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
from typing import Dict, List, NamedTuple, Optional, Tuple

from ..packaging.options import host_arch
from . import syscalls as sc

BINFMT_MISC = "/proc/sys/fs/binfmt_misc"   # a module constant, so that tests can point it elsewhere

# ELF e_machine -> the architecture as Lambda names it.
ELF_MACHINES = {62: "x86_64", 183: "arm64"}
ELF_MAGIC = b"\x7fELF"
ELF_HEADER_PREFIX = 20  # e_ident (16), e_type (2), e_machine (2)


class Emulator(NamedTuple):
    """How this machine runs one foreign architecture."""

    name: str           # the binfmt_misc handler's name, as Debian and QEMU's own scripts call it
    interpreter: str    # a static qemu-user: nothing of the host is in the sandbox's chroot to load it
    debian_conf: str    # Debian's systemd-binfmt line for it, whose magic and mask are used when present
    magic: bytes        # the first 20 bytes of an ELF program for the architecture...
    mask: bytes         # ...and which bits of them count (any OS ABI; ET_EXEC or ET_DYN)


EMULATORS: Dict[str, Emulator] = {
    "arm64": Emulator(
        "qemu-aarch64", "/usr/bin/qemu-aarch64-static", "/usr/lib/binfmt.d/qemu-aarch64.conf",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        b"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
}
DEBIAN_PACKAGE = "qemu-user-static"
AT_FLAGS_PRESERVE_ARGV0 = (5, 12)  # the first kernel that tells the interpreter the P flag is set


class EmulationUnavailable(Exception):
    """This machine cannot run the inputs' architecture; the message says what is missing.
    ``lacking``: this machine lacks something (qemu, binfmt_misc, the right to register),
    rather than holding something unfit (a handler without F, binfmt_misc turned off)."""

    def __init__(self, message: str, lacking: bool = True) -> None:
        super().__init__(message)
        self.lacking = lacking


def elf_machine(header: bytes) -> Optional[int]:
    """An ELF file's e_machine, from its first 20 bytes; None if they are no ELF header."""
    if len(header) < ELF_HEADER_PREFIX or not header.startswith(ELF_MAGIC) or header[5] not in (1, 2):
        return None
    return int(struct.unpack("<H" if header[5] == 1 else ">H", header[18:20])[0])


def elf_arch(header: bytes) -> Optional[str]:
    """"x86_64" or "arm64" for an ELF file built for it; None for anything else."""
    machine = elf_machine(header)
    return ELF_MACHINES.get(machine) if machine is not None else None


def is_program_or_library(header: bytes) -> bool:
    """An ELF file that runs or is loaded (ET_EXEC, ET_DYN), not an object file or a core dump."""
    if elf_machine(header) is None:
        return False
    return int(struct.unpack("<H" if header[5] == 1 else ">H", header[16:18])[0]) in (2, 3)


def emulator_name(arch: str) -> str:
    return EMULATORS[arch].name if arch in EMULATORS else "qemu"


# -- binfmt_misc's files -------------------------------------------------------------------

class Handler(NamedTuple):
    """One registered binfmt_misc handler, as /proc/sys/fs/binfmt_misc/NAME shows it."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int
    magic: Optional[bytes]   # None for a handler matching by file-name extension
    mask: Optional[bytes]

    def matches(self, header: bytes) -> bool:
        """Whether the kernel would hand a file starting with ``header`` to this handler."""
        if self.magic is None or self.offset + len(self.magic) > len(header):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        window = header[self.offset:self.offset + len(self.magic)]
        return all((a ^ b) & m == 0 for a, b, m in zip(window, self.magic, mask))


def parse_handler(name: str, text: str) -> Optional[Handler]:
    """A handler's file; None when it is not one (the kernel's format: ``enabled``, then
    ``interpreter PATH``, ``flags: POCF``, ``offset N``, ``magic HEX`` and ``mask HEX``)."""
    lines = text.splitlines()
    if not lines or lines[0] not in ("enabled", "disabled"):
        return None
    fields: Dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    try:
        magic = bytes.fromhex(fields["magic"]) if "magic" in fields else None
        mask = bytes.fromhex(fields["mask"]) if "mask" in fields else None
        offset = int(fields.get("offset", "0"))
    except ValueError:
        return None
    return Handler(name, lines[0] == "enabled", fields.get("interpreter", ""), fields.get("flags", ""), offset,
                   magic, mask)


def registered_handlers(directory: Optional[str] = None) -> List[Handler]:
    """Every handler registered in binfmt_misc (its files that read as one)."""
    directory = directory or BINFMT_MISC
    found = []
    for name in sorted(os.listdir(directory)):
        if name in ("status", "register"):
            continue
        try:
            with open(os.path.join(directory, name)) as handle:
                handler = parse_handler(name, handle.read())
        except (OSError, UnicodeDecodeError):
            continue
        if handler is not None:
            found.append(handler)
    return found


def _unescape(text: str) -> bytes:
    """binfmt_misc's ``\\xHH`` escapes (and plain characters) as bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\x", i) and i + 4 <= len(text):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif text.startswith("\\\\", i):
            out.append(0x5C)
            i += 2
        else:
            out += text[i].encode("latin-1")
            i += 1
    return bytes(out)


def _escape(data: bytes) -> str:
    return "".join("\\x%02x" % byte for byte in data)


def magic_and_mask(arch: str, conf: Optional[str] = None) -> Tuple[str, str]:
    """The magic and mask to register, escaped: Debian's line's when it has one that
    matches this architecture's ELF programs, else the constants above (the same, today)."""
    emulator = EMULATORS[arch]
    try:
        with open(conf or emulator.debian_conf) as handle:
            line = handle.read().strip()
        fields = line[1:].split(line[0])
        if fields[1] == "M" and fields[2] in ("", "0"):
            magic, mask = _unescape(fields[3]), _unescape(fields[4])
            probe = Handler("", True, "", "", 0, magic, mask)
            if len(magic) == len(mask) and probe.matches(emulator.magic) and probe.matches(
                    emulator.magic[:16] + b"\x03" + emulator.magic[17:]):
                return fields[3], fields[4]
    except (OSError, IndexError, ValueError, UnicodeDecodeError):
        pass
    return _escape(emulator.magic), _escape(emulator.mask)


def _kernel_at_least(version: Tuple[int, int]) -> bool:
    numbers = []
    for part in os.uname().release.split("-")[0].split(".")[:2]:
        numbers.append(int(part) if part.isdigit() else 0)
    return tuple(numbers) >= version


def registration_flags() -> str:
    """F: the interpreter is opened now, outside the chroot, and used from that open file
    (required, see the module's docstring). O: the kernel opens the program and hands qemu
    the descriptor, so a program others may run but not read (mode 0711) runs, as natively.
    P: argv[0] reaches the program as given (a multi-call program, or anything that looks
    at its own name, sees what it would natively); only where the kernel tells qemu of it
    (AT_FLAGS, Linux 5.12), else qemu would take argv[0] for the program's first argument.
    Never C: credentials from the program would run qemu, which is no security boundary,
    setuid for any setuid aarch64 file on the machine (and the sandbox has none to honour:
    setuid bits are dropped and no_new_privs is set)."""
    return ("P" if _kernel_at_least(AT_FLAGS_PRESERVE_ARGV0) else "") + "OF"


def registration_line(arch: str) -> str:
    """What is written to binfmt_misc's ``register`` to run ``arch``'s programs under qemu."""
    emulator = EMULATORS[arch]
    magic, mask = magic_and_mask(arch)
    return ":%s:M::%s:%s:%s:%s" % (emulator.name, magic, mask, emulator.interpreter, registration_flags())


# -- making sure ---------------------------------------------------------------------------

def _mount_binfmt_misc() -> None:
    """binfmt_misc mounted at BINFMT_MISC (systemd does it on boot; a bare machine may not)."""
    if os.path.exists(os.path.join(BINFMT_MISC, "status")):
        return
    if not os.path.isdir(BINFMT_MISC):  # the module is not loaded (or the kernel lacks it)
        modprobe = shutil.which("modprobe") or shutil.which("modprobe", path="/usr/sbin:/sbin")
        if modprobe is not None and os.geteuid() == 0:
            subprocess.run([modprobe, "binfmt_misc"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        if not os.path.isdir(BINFMT_MISC):
            raise EmulationUnavailable(
                "%s does not exist: this kernel has no binfmt_misc (CONFIG_BINFMT_MISC), or its module is not "
                "loaded (as root: modprobe binfmt_misc); running arm64 code here needs it" % BINFMT_MISC)
    if os.geteuid() != 0:
        raise EmulationUnavailable(
            "binfmt_misc is not mounted at %s, and only root can mount it (as root: mount -t binfmt_misc "
            "binfmt_misc %s)" % (BINFMT_MISC, BINFMT_MISC))
    try:
        sc.mount("binfmt_misc", BINFMT_MISC, "binfmt_misc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError as exc:
        raise EmulationUnavailable(
            "cannot mount binfmt_misc at %s (%s): in a container, the host must provide it (register qemu "
            "there, or run the container --privileged)" % (BINFMT_MISC, os.strerror(exc.errno or 0))) from None


def _fit_problem(arch: str, handler: Handler) -> Optional[str]:
    """Why an enabled handler for ``arch``'s programs cannot serve the sandbox, or None."""
    if "F" not in handler.flags:
        return ("binfmt_misc's handler %r runs %s programs with %s, but without the F (fix-binary) flag: the "
                "kernel then looks %s up each time a program starts, inside the sandbox's root, which has no "
                "qemu, and every %s program there fails with ENOENT. It is not replaced behind your back: "
                "re-register it with F (as Debian's %s does), as root:\n"
                "    echo -1 > %s\n    echo '%s' > %s"
                % (handler.name, arch, handler.interpreter, handler.interpreter, arch, DEBIAN_PACKAGE,
                   os.path.join(BINFMT_MISC, handler.name), registration_line(arch),
                   os.path.join(BINFMT_MISC, "register")))
    from ..packaging.elf import read_elf

    info = read_elf(handler.interpreter)  # None when gone since it was opened: the kernel holds it
    if info is not None and info.interpreter:
        return ("binfmt_misc's handler %r runs %s programs with %s, a dynamically linked program: its loader "
                "%s is looked up inside the sandbox's root, which has none. Use a static qemu (Debian's %s: "
                "%s); as root:\n    echo -1 > %s\n    echo '%s' > %s"
                % (handler.name, arch, handler.interpreter, info.interpreter, DEBIAN_PACKAGE,
                   EMULATORS[arch].interpreter, os.path.join(BINFMT_MISC, handler.name), registration_line(arch),
                   os.path.join(BINFMT_MISC, "register")))
    return None


def _check_handlers(arch: str) -> Optional[bool]:
    """True: an enabled handler serves ``arch`` and all such are fit. False: none is
    registered. A problem with what is registered raises."""
    emulator = EMULATORS[arch]
    headers = (emulator.magic, emulator.magic[:16] + b"\x03" + emulator.magic[17:])  # a program, a PIE
    matching = [h for h in registered_handlers() if any(h.matches(header) for header in headers)]
    enabled = [h for h in matching if h.enabled]
    for handler in enabled:
        problem = _fit_problem(arch, handler)
        if problem:
            raise EmulationUnavailable(problem, lacking=False)
    if enabled:
        return True
    if matching:
        names = ", ".join(h.name for h in matching)
        raise EmulationUnavailable(
            "binfmt_misc's handler %s for %s programs is disabled: enable it (as root: echo 1 > %s), or remove it "
            "(echo -1 > %s) and run-lambda-local registers its own" % (
                names, arch, os.path.join(BINFMT_MISC, matching[0].name),
                os.path.join(BINFMT_MISC, matching[0].name)), lacking=False)
    return False


def _register(arch: str) -> None:
    emulator = EMULATORS[arch]
    if not os.path.isfile(emulator.interpreter):
        raise EmulationUnavailable(
            "%s is not installed: running %s code on this %s machine needs it (Debian: apt-get install %s)"
            % (emulator.interpreter, arch, host_arch(), DEBIAN_PACKAGE))
    line = registration_line(arch)
    register = os.path.join(BINFMT_MISC, "register")
    if os.geteuid() != 0:
        raise EmulationUnavailable(
            "no binfmt_misc handler runs %s programs under qemu, and only root can register one; as root:\n"
            "    echo '%s' > %s" % (arch, line, register))
    try:
        fd = os.open(register, os.O_WRONLY)
        try:
            os.write(fd, line.encode())  # one write: the kernel takes one line a write
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.EEXIST and _check_handlers(arch):
            return  # another run registered one at the same moment
        what = {errno.EEXIST: "a handler named %r exists but does not match %s programs (remove it: echo -1 > %s)"
                % (emulator.name, arch, os.path.join(BINFMT_MISC, emulator.name)),
                errno.EPERM: "not permitted (in a container, register qemu on the host instead)",
                errno.EACCES: "not permitted (in a container, register qemu on the host instead)"}
        raise EmulationUnavailable("the kernel refused to register qemu for %s programs (%s): %s; the line was:\n"
                                   "    echo '%s' > %s" % (arch, os.strerror(exc.errno or 0),
                                                            what.get(exc.errno or 0, "see dmesg"), line, register),
                                   lacking=exc.errno != errno.EEXIST) from None


def ensure_emulation(arch: str) -> None:
    """Make sure this machine runs ``arch``'s programs, in the sandbox's chroot too: nothing
    for the host's own; for another, a fit binfmt_misc handler, registered if need be.
    Raises EmulationUnavailable, saying what is missing and what to do."""
    if arch == host_arch():
        return
    if arch not in EMULATORS:
        raise EmulationUnavailable("running %s code on this %s machine is not supported: run it on a %s machine"
                                   % (arch, host_arch(), arch))
    _mount_binfmt_misc()
    try:
        with open(os.path.join(BINFMT_MISC, "status")) as handle:
            status = handle.read().strip()
    except OSError as exc:
        raise EmulationUnavailable("cannot read %s: %s" % (os.path.join(BINFMT_MISC, "status"),
                                                           os.strerror(exc.errno or 0))) from None
    if status != "enabled":
        raise EmulationUnavailable("binfmt_misc is disabled on this machine: enable it (as root: echo 1 > %s)"
                                   % os.path.join(BINFMT_MISC, "status"), lacking=False)
    if _check_handlers(arch):
        return
    _register(arch)
    if not _check_handlers(arch):
        raise EmulationUnavailable("qemu was registered for %s programs, yet %s shows no handler for them"
                                   % (arch, BINFMT_MISC), lacking=False)


def emulation_problem(arch: str) -> Optional[str]:
    """Why ``arch``'s programs cannot run here, or None when they can (registering qemu
    first, as root, as ``ensure_emulation`` would): for a test to skip with the reason."""
    try:
        ensure_emulation(arch)
    except EmulationUnavailable as exc:
        return str(exc)
    return None
