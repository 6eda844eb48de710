#!/usr/bin/python3
"""A persistent-mode program speaking the NDJSON protocol, with switchable misbehaviour."""
import base64
import json
import os
import sys
import time

print("persistent program %d ready" % os.getpid(), file=sys.stderr, flush=True)
for line in sys.stdin:
    request = json.loads(line)
    event = request.get("event") or {}
    reply = {"id": request["id"]}
    if event.get("crash"):
        print("crashing as asked", file=sys.stderr, flush=True)
        sys.exit(7)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("chatter"):
        print("not a reply, just chatter", flush=True)
    if "error" in event:
        reply["error"] = {"type": "Ledger.Closed", "message": event["error"]}
    elif "binary" in event:
        reply["response_base64"] = base64.b64encode(bytes(range(event["binary"]))).decode()
    else:
        reply["response"] = {"echo": event, "pid": os.getpid(), "workdir_exists": os.path.isdir(request["workdir"]),
                             "has_deadline": request["deadline_ms"] > 0}
    print(json.dumps(reply), flush=True)
