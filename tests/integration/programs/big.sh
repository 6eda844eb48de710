#!/bin/sh
head -c 7000000 /dev/zero
