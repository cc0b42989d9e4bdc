#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn a guest console log into the host's verdict: one TAP line per test case (the
# indented results of each kselftest program), plus checks that the guest finished
# and its kernel logged no BUG/WARNING/Oops, then "N passed, N failed, N skipped".
# Exits non-zero when anything failed.
# usage: tap-summary.sh LOG
LOG=$1
awk '
function result(ok, name, directive) {
	n++
	if (directive ~ /^ *# *SKIP/) { skip++; ok = 1 }
	else if (ok) pass++
	else fail++
	printf "%s %d - %s%s\n", ok ? "ok" : "not ok", n, name, directive
}
{ sub(/\r$/, "") }
/^# selftests: vfio-nvme: / { prog = $4; cases = 0; next }
# a test case inside a program: "# ok 3 fixture.variant.name" or "# not ok ..."
/^# (not )?ok [0-9]+ / {
	line = substr($0, 3); ok = line !~ /^not/
	sub(/^(not )?ok [0-9]+ /, "", line)
	directive = ""
	if (match(line, / # .*/)) { directive = substr(line, RSTART); line = substr(line, 1, RSTART - 1) }
	cases++; result(ok, prog "." line, directive); next
}
# the program result: counts only when the program produced no case results
/^(not )?ok [0-9]+ selftests: vfio-nvme: / {
	if (!cases || $1 == "not") {
		d = ""; if (match($0, / # .*/)) d = substr($0, RSTART)
		if (!cases || d !~ /exit=1$/) result($1 == "ok", prog, d)
	}
	next
}
/RIG-DONE rc=/ { done = 1 }
/(BUG:|WARNING:|Oops|Kernel panic|KASAN|UBSAN|possible circular locking|INFO: task .* blocked)/ {
	if (!kbad) kbadline = $0; kbad++
}
END {
	result(done, "guest finished (no crash, no hang)", done ? "" : " # see " FILENAME)
	result(!kbad, "guest kernel log has no BUG/WARNING/Oops", kbad ? " # " kbadline : "")
	print "1.." n
	printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
	exit fail ? 1 : 0
}' "$LOG"
