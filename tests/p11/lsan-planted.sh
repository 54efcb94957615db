#!/bin/sh
# A leak of our own made through libp11 is reported under tests/lsan.supp: the suppressions name
# the libraries' own leaking functions, not the libraries. Usage: lsan-planted.sh PROGRAM SUPP,
# or with no arguments in a build without AddressSanitizer, where it skips.
if [ $# -eq 0 ]; then
    echo "SKIP: not an ASan build (-Db_sanitize=address): LeakSanitizer is not there to check"
    exit 77
fi
program=$1
supp=$2
out=$(ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions='$supp':print_suppressions=0" \
    "$program" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 0 ]; then
    echo "FAIL: the planted leak was not reported: the program exited 0 under $supp"
    exit 1
fi
if [ "$rc" -eq 2 ]; then
    echo "FAIL: the program could not enumerate SoftHSM2's slots"
    exit 1
fi
if ! printf '%s\n' "$out" | grep -q 'ERROR: LeakSanitizer: detected memory leaks'; then
    echo "FAIL: the program failed ($rc), but LeakSanitizer reported no leak"
    exit 1
fi
if ! printf '%s\n' "$out" | grep -q 'libp11\.so'; then
    echo "FAIL: LeakSanitizer reported no leak allocated through libp11"
    exit 1
fi
echo "PASS: the leak through libp11 is reported and fails the program ($rc)"
