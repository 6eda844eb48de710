"""The few Linux system calls the sandbox needs that Python's ``os`` lacks (3.9-3.11).

``mount``, ``umount2``, ``unshare`` and ``prctl`` through libc, each raising ``OSError``
with errno on failure. Calling them directly instead of spawning ``mount(8)`` for every
mount keeps the sandbox's set-up to a few milliseconds. Tooling only: never in a layer.
"""

from __future__ import annotations

import ctypes
import os
from typing import Optional

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "%s: %s" % (what, os.strerror(errno)))


def _bytes(value: Optional[str]) -> Optional[bytes]:
    return None if value is None else os.fsencode(value)


def mount(source: Optional[str], target: str, fstype: Optional[str] = None, flags: int = 0,
          data: Optional[str] = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)),
           "mount %s on %s" % (source or fstype, target))


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(os.fsencode(target), flags), "umount %s" % target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), "prctl %d" % option)


def drop_capability_bounding_set() -> None:
    """No capability can come back later, whatever a program does (needs CAP_SETPCAP)."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for capability in range(last + 1):
        prctl(PR_CAPBSET_DROP, capability)


LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_AUTOCLEAR = 4


def mount_image(image: str, target: str, fstype: str, flags: int = 0, attempts: int = 8) -> None:
    """Mount a file-system image through a free loop device that the kernel detaches once
    it is unmounted (autoclear): no ``losetup``/``mount -o loop`` process, no device left
    behind. The loop device stays open until mounted: autoclear would detach it at close."""
    import fcntl
    import struct

    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(attempts):
            device = "/dev/loop%d" % fcntl.ioctl(control, LOOP_CTL_GET_FREE)
            loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                # struct loop_config: fd, block_size, loop_info64 (lo_flags at offset 52 of it), reserved
                config = bytearray(304)
                struct.pack_into("=II", config, 0, backing, 0)
                struct.pack_into("=I", config, 8 + 52, LO_FLAGS_AUTOCLEAR)
                try:
                    fcntl.ioctl(loop, LOOP_CONFIGURE, bytes(config))
                except OSError as exc:
                    if exc.errno == 16:  # EBUSY: another process took this device first
                        continue
                    raise
                mount(device, target, fstype, flags)
                return
            finally:
                os.close(loop)
        raise OSError(16, "no free loop device after %d attempts" % attempts)
    finally:
        os.close(backing)
        os.close(control)
