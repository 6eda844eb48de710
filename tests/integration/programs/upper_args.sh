#!/bin/sh
# File mode with the paths as arguments: upper_args.sh {input} {output}
tr a-z A-Z < "$1" > "$2"
