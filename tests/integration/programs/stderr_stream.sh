#!/bin/sh
echo "step 1 of 2" >&2
sleep 0.2
echo "step 2 of 2" >&2
echo done
