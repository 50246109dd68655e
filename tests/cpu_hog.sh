#!/bin/sh
# Runs a command with one CPU core kept busy, as on a shared CI runner or a
# laptop compiling something else (issue 13, item 11):
#
#     tests/cpu_hog.sh /usr/bin/python3 -m pytest -q -p no:cacheprovider tests
#
# The hog is one busy loop pinned to core PYAB_HOG_CPU (default 0) with
# taskset when it is installed, else left to the scheduler; it runs at
# normal priority, so it competes with the tests for that core. It is
# stopped (by its own pid) when the command ends or the script is
# interrupted, and the command's exit status is returned.
set -u
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
cpu=${PYAB_HOG_CPU:-0}
if command -v taskset >/dev/null 2>&1; then
    taskset -c "$cpu" sh -c 'while :; do :; done' &
else
    sh -c 'while :; do :; done' &
fi
hog=$!
trap 'kill "$hog" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
echo "cpu_hog: pid $hog busy on core $cpu" >&2
"$@"
