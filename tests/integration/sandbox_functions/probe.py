"""A function that reports what the sandbox lets it see and do (one action per event)."""

import os
import time


def _status():
    with open("/proc/self/status") as handle:
        return dict(line.split(":\t", 1) for line in handle.read().splitlines() if ":\t" in line)


def _try_write(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        os.unlink(path)
        return "written"
    except OSError as exc:
        return exc.strerror


def whoami(event):
    status = _status()
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "cwd": os.getcwd(), "caps": {k: status[k].strip() for k in status if k.startswith("Cap")},
            "no_new_privs": status["NoNewPrivs"].strip(),
            "memory_size": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")}


def writes(event):
    return {path: _try_write(path) for path in
            ("/var/task/x", "/opt/x", "/x", "/var/x", "/tmp/x", "/dev/x", "/proc/x")}


def fill_tmp(event):
    """Write 1 MB blocks into /tmp until it is full; report how much fitted, then clean up."""
    block, written = b"\0" * (1 << 20), 0
    try:
        with open("/tmp/fill", "wb") as handle:
            while written < (event.get("limit_mb", 20000) << 20):
                handle.write(block)
                written += len(block)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        error = exc.strerror
    else:
        error = None
    os.unlink("/tmp/fill")
    stat = os.statvfs("/tmp")
    return {"written_mb": written >> 20, "error": error, "size_mb": (stat.f_blocks * stat.f_frsize) >> 20}


def eat(event):
    """Allocate and touch ``mb`` megabytes."""
    chunks = []
    for _ in range(event["mb"]):
        chunk = bytearray(1 << 20)
        for i in range(0, len(chunk), 4096):
            chunk[i] = 1
        chunks.append(chunk)
    return {"ate_mb": len(chunks)}


def procs(event):
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    found[entry] = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                pass
    return found


def dev(event):
    with open("/dev/urandom", "rb") as handle:
        random_bytes = len(handle.read(16))
    with open("/dev/null", "wb") as handle:
        handle.write(b"gone")
    return {"entries": sorted(os.listdir("/dev")), "random_bytes": random_bytes}


def daemon(event):
    """Start a setsid daemon that would live forever; return its pid (in the sandbox)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.write(write_end, str(os.getpid()).encode())
            while True:
                time.sleep(3600)
        os._exit(0)
    os.waitpid(child, 0)
    os.close(write_end)
    return {"daemon": int(os.read(read_end, 32))}


def sleep(event):
    time.sleep(event.get("seconds", 30))
    return {"slept": True}


def handler(event, context):
    return globals()[event["action"]](event)


def threads(event):
    """Start threads until the sandbox refuses one; report how many ran at once."""
    import _thread

    gate = _thread.allocate_lock()
    gate.acquire()
    started, error = 0, None
    while started < event.get("limit", 5000):
        try:
            _thread.start_new_thread(lambda: (gate.acquire(), gate.release()), ())
        except RuntimeError as exc:
            error = str(exc)
            break
        started += 1
    gate.release()
    return {"started": started, "error": error}


def open_files(event):
    """Open /dev/null until the sandbox refuses; report how many descriptors that took."""
    fds, error = [], None
    try:
        while len(fds) < 100000:
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        error = exc.strerror
    highest = max(fds) if fds else -1
    for fd in fds:
        os.close(fd)
    return {"highest_fd": highest, "error": error}
