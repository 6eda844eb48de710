#!/bin/sh
# Prints its working directory, then its environment, one variable a line.
pwd
env
