#!/bin/sh
printf '\000\001\002\377\376\n\r'
