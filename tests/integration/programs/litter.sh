#!/bin/sh
# Shows what its working directory held at start, then litters it the way an unprivileged
# program can: read-only and unreadable directories, nested, and files without any mode.
ls -A
mkdir ro && echo x > ro/f && chmod 500 ro
mkdir -p deep/er && echo y > deep/er/g && chmod 500 deep/er deep
mkdir locked && echo z > locked/h && chmod 000 locked
echo data > left.txt && chmod 000 left.txt
