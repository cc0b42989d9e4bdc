#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest's selftest runner (guest/run-selftests.sh), run on the host with
# busybox's applets as the guest has them: a program that outlives its timeout
# is reported as a TIMEOUT, and no process it forked goes on beside the next
# program.  A kselftest harness runs each case in a child; busybox's timeout
# kills only the program, so a case the runner does not kill keeps using the
# VFs while the next program runs (on the debug kernel in CI, a timed-out
# libvirt_migration_test took 29 cases after it down with it).
# Prints "RESULT ok|not ok rig: ..." lines (tap-summary.sh counts them).
set -uo pipefail
. "$(dirname "$0")/common.sh"

result() { check_result rig "$@"; }

W=$(mktemp -d)
trap 'kill -KILL "$(cat "$W/case.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/bin" "$W/selftests" "$W/tmp"
for a in $(busybox --list); do ln -s "$(command -v busybox)" "$W/bin/$a"; done

# a program whose "case" outlives it, then one that must run alone
cat > "$W/selftests/a_hang_test" <<EOF
#!/bin/sh
sleep 600 &
echo \$! > $W/case.pid
exec sleep 600
EOF
cat > "$W/selftests/b_next_test" <<EOF
#!/bin/sh
# SIGKILL takes a moment; a zombie waiting for its reaper is gone
p=\$(cat $W/case.pid)
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -qv '^[0-9]* ([^)]*) Z' /proc/\$p/stat 2>/dev/null || exit 0
	sleep 0.2
done
echo "the timed-out program's case still runs"
exit 1
EOF
chmod +x "$W/selftests/"*_test
echo timeout=2 > "$W/selftests/settings"

out=$(PATH="$W/bin" SELFTESTS="$W/selftests" TMPDIR="$W/tmp" \
	busybox sh "$RIG/guest/run-selftests.sh" 2>&1)
grep -q '^not ok 1 selftests: vfio-nvme: a_hang_test # TIMEOUT 2s$' <<<"$out"
result "the runner reports a timed-out program as TIMEOUT" $? "$out"
grep -q '^ok 2 selftests: vfio-nvme: b_next_test$' <<<"$out"
result "a timed-out program's processes do not outlive it" $? "$out"
