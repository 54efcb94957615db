#!/bin/sh
# Every line of tests/lsan.supp matched a leak in the ASan run: a suppression that no longer
# matches anything (the library fixed, a function renamed) is taken out rather than left to hide
# a leak of ours one day. Reads the "Suppressions used:" tables LeakSanitizer prints with
# print_suppressions=1 into the test logs. Usage: lsan-check-used.sh SUPP TESTLOG...
supp=$1
shift
used=$(awk '/^Suppressions used:/ { t = 1; next }
            t && /^ *count/ { next }
            t && /^ *[0-9]+ +[0-9]+ / { print $3; next }
            { t = 0 }' "$@" | sort -u)
unused=0
for pattern in $(sed -n 's/^leak://p' "$supp"); do
    if printf '%s\n' "$used" | grep -qxF "$pattern"; then
        echo "used: leak:$pattern"
    else
        echo "UNUSED: leak:$pattern matched no leak in $*: remove it from $supp"
        unused=1
    fi
done
exit $unused
