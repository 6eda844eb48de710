#!/bin/sh
echo "started, now hanging" >&2
[ -n "$HANG_PIDFILE" ] && echo $$ > "$HANG_PIDFILE"
sleep 1000
