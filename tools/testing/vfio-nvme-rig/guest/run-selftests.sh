#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run every vfio-nvme selftest in kselftest runner format: each test's own TAP is
# indented with "# ", followed by one result line per test program.
# SELFTESTS and TMPDIR: test-runner.sh runs this on the host
cd "${SELFTESTS:-/selftests}" || exit 1
tmp=${TMPDIR:-/tmp}
timeout=$(sed -n 's/^timeout=//p' settings 2>/dev/null)
# "selftest_timeout=N" on the kernel command line (RIG_APPEND) for ad hoc long runs
t=$(sed -n 's/.*[ ]selftest_timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$t" ] && timeout=$t t_override=1
# pf_* tests take PFs away (and put them back): they run last
tests="$(ls *_test *_test.sh | grep -v '^pf_') $(ls pf_*_test 2>/dev/null)"
# "only=a_test,b_test" on the kernel command line (make check ONLY=...) picks tests
only=$(sed -n 's/.*[ ]only=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$only" ] && tests=$(echo "$only" | tr , ' ')
# "skip=a_test,b_test" (run-checks.sh's other part of a split run) leaves those out
skip=$(sed -n 's/.*[ ]skip=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$skip" ] && tests=$(for t in $tests; do case ",$skip," in *",$t,"*) ;; *) echo "$t" ;; esac; done)
n=0
rc=0
echo "TAP version 13"
echo "1..$(echo "$tests" | wc -w)"
for t in $tests; do
	n=$((n + 1))
	echo "# selftests: vfio-nvme: $t"
	# "timeout_NAME=N" in settings: a longer limit for one program (the rig's
	# runner only; kselftest's takes the directory's "timeout=")
	tt=$(sed -n "s/^timeout_$t=//p" settings 2>/dev/null)
	[ -n "$t_override" ] && tt=
	# Each program in a process group of its own.  busybox's timeout sends
	# SIGTERM to the program only (exit 143, not coreutils' 124): the
	# harness's parent dies, the child running the case would go on using
	# the VFs beside the next program.  So after a timeout the runner kills
	# the group, and the libvirt hosts a killed case leaves running.
	(setsid sh -c 'echo $$ > "$2"; exec timeout "$0" "$1"' \
		"${tt:-${timeout:-120}}" "./$t" "$tmp/pgid" 2>&1; echo "RC=$?") > "$tmp/$t.out"
	r=$(sed -n 's/^RC=//p' "$tmp/$t.out")
	sed '/^RC=/d; s/^/# /' "$tmp/$t.out"
	case $r in
	0) echo "ok $n selftests: vfio-nvme: $t" ;;
	4) echo "ok $n selftests: vfio-nvme: $t # SKIP" ;;
	124|143)
		echo "not ok $n selftests: vfio-nvme: $t # TIMEOUT ${tt:-$timeout}s"; rc=1
		kill -KILL "-$(cat "$tmp/pgid")" 2>/dev/null
		[ -d /libvirt/tmp/lv ] && /rig/libvirt-hosts.sh stop /libvirt > /dev/null 2>&1
		;;
	*) echo "not ok $n selftests: vfio-nvme: $t # exit=$r"; rc=1 ;;
	esac
done
exit $rc
