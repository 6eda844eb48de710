#!/bin/sh
# Shows what its working directory held at start, then litters it (a read-only directory too).
ls -A
mkdir ro && echo x > ro/f && chmod 500 ro
echo data > left.txt
