#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn guest console logs into the host's verdict: one TAP line per test case (the
# indented results of each kselftest program), plus, per guest, checks that it
# finished and that its kernel logged no BUG/WARNING/Oops/lockdep/KASAN report;
# then "N passed, N failed, N skipped".  Exits non-zero when anything failed.
# A guest log named check-LABEL.log prefixes its test names with "LABEL: ", and
# check-LABEL-PART.log (one part of a kernel's tests, run-checks.sh) with "LABEL: " too.
# Lines "RESULT ok|not ok NAME" (lint.sh) count as test cases too.
# usage: tap-summary.sh LOG...
awk '
function result(ok, name, directive) {
	n++
	if (directive ~ /^ *# *SKIP/) { skip++; ok = 1 }
	else if (ok) pass++
	else fail++
	printf "%s %d - %s%s\n", ok ? "ok" : "not ok", n, name, directive
}
function finish_guest() {
	if (!guest) return
	result(done, run "guest finished (no crash, no hang)", done ? "" : " # see " guest)
	result(!kbad, run "guest kernel log has no BUG/WARNING/Oops", kbad ? " # " kbadline : "")
}
FNR == 1 {
	finish_guest()
	guest = ""; label = ""; run = ""; done = 0; kbad = 0
	if (FILENAME ~ /check(-[a-z-]+)?\.log$/) {
		guest = FILENAME
		if (match(FILENAME, /check-[a-z-]+\.log$/)) {
			run = substr(FILENAME, RSTART + 6, RLENGTH - 10)
			label = run
			sub(/-.*/, "", label)
			label = label ": "
			run = run ": "
		}
	}
}
{ sub(/\r$/, "") }
/^# selftests: vfio-nvme: / { prog = $4; cases = 0; next }
# a test case inside a program: "# ok 3 fixture.variant.name" or "# not ok ..."
/^# (not )?ok [0-9]+ / {
	line = substr($0, 3); ok = line !~ /^not/
	sub(/^(not )?ok [0-9]+ /, "", line)
	directive = ""
	if (match(line, / # .*/)) { directive = substr(line, RSTART); line = substr(line, 1, RSTART - 1) }
	cases++; result(ok, label prog "." line, directive); next
}
# the program result: counts only when the program produced no case results
/^(not )?ok [0-9]+ selftests: vfio-nvme: / {
	d = ""; if (match($0, / # .*/)) d = substr($0, RSTART)
	if (!cases || ($1 == "not" && d !~ /exit=1$/)) result($1 == "ok", label prog, d)
	next
}
/^RESULT (not )?ok / { line = $0; sub(/^RESULT (not )?ok /, "", line); result($2 == "ok", line, ""); next }
/RIG-DONE rc=/ { done = 1 }
guest && /(BUG:|WARNING:|Oops|Kernel panic|KASAN|UBSAN|possible circular locking|possible recursive locking|INFO: task .* blocked|inconsistent lock state)/ {
	if (!kbad) kbadline = $0; kbad++
}
END {
	finish_guest()
	print "1.." n
	printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
	exit fail ? 1 : 0
}' "$@"
