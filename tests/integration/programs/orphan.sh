#!/bin/sh
# Leaves two descendants behind: one in its process group, one that escaped it (setsid).
sleep 1000 &
in_group=$!
setsid sleep 1001 </dev/null >/dev/null 2>&1 &
escaped=$!
printf '{"in_group": %s, "escaped": %s}' "$in_group" "$escaped"
