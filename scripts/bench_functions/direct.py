"""Baselines for the adapter benchmark: a program run as directly as Python allows.

``stdio`` spawns the program per invoke, feeds the event, reads stdout and waits;
``persistent`` writes one NDJSON line to an already-running program and reads one back.
No deadline, no stderr handling, no working directory, no clean-up: only the exec.
"""
import json
import os

from bootstrap_sdk import raw_event

PROGRAM_DIR = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "bin")


@raw_event
def stdio(event, context):
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.posix_spawn(os.path.join(PROGRAM_DIR, "cat"), ["cat"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
    os.close(in_r)
    os.close(out_w)
    os.write(in_w, event)
    os.close(in_w)
    chunks = []
    while True:
        data = os.read(out_r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(out_r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


_program = None


@raw_event
def persistent(event, context):
    global _program
    if _program is None:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        os.posix_spawn(os.path.join(PROGRAM_DIR, "echo_persistent"), ["echo_persistent"], os.environ,
                       file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
        os.close(in_r)
        os.close(out_w)
        _program = (os.fdopen(in_w, "wb"), os.fdopen(out_r, "rb"))
    stdin, stdout = _program
    request = {"id": context.aws_request_id, "event": json.loads(event)}
    stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
    stdin.flush()
    return json.dumps(json.loads(stdout.readline())["response"]).encode()
