#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check's VM runs, JOBS at a time: each run boots the rig (run-vm.sh check) with
# its own disk images (IMGDIR=build/vm-LABEL) and console log (LOGDIR/check-LABEL.log).
# Under TCG each guest runs on one host thread (run-vm.sh: thread=single), so on two
# cores two runs take about as long as the longer one.  The debug kernel's run, the
# longest, is split in two: the programs in CHECK_SPLIT run on their own ("debug-split"),
# the rest in "debug"; these two go first.  Prints each run's RIG and QEMU lines when it
# ends.
# usage: run-checks.sh JOBS LOGDIR KERNEL...    (KERNEL: debian | debug | package)
# env:   VM_KERNEL_<KERNEL> INITRD_<KERNEL>  the kernel and image of each
#        ONLY        a,b: just these programs, on each kernel (no split)
#        PKG_TESTS   the programs of the package's run
#        CHECK_SPLIT the debug kernel's programs that run on their own
#        RIG_APPEND  more of the guests' command line
set -uo pipefail
. "$(dirname "$0")/common.sh"

[ $# -ge 2 ] || die "usage: $0 JOBS LOGDIR KERNEL..."
JOBS=$1 LOGDIR=$2
shift 2
ONLY=${ONLY:-} SPLIT=${CHECK_SPLIT:-} APPEND_ALL=${RIG_APPEND:-}

# each run: LABEL|KERNEL|INITRD|APPEND
runs=()
for k in "$@"; do
	kv=VM_KERNEL_$k iv=INITRD_$k
	run="$k|${!kv:-}|${!iv:-}"
	[ -n "${!kv:-}" ] && [ -e "${!iv:-}" ] || { echo "no image for the $k kernel: skipped"; continue; }
	if [ "$k" = package ]; then
		runs+=("$run|only=${PKG_TESTS:-}")
	elif [ -n "$ONLY" ]; then
		runs+=("$run|only=$ONLY")
	elif [ "$k" = debug ] && [ -n "$SPLIT" ]; then
		runs=("$run|skip=$SPLIT" "debug-split|${!kv}|${!iv}|only=$SPLIT" "${runs[@]}")
	else
		runs+=("$run|")
	fi
done

one_run() { # label kernel initrd append
	local log=$LOGDIR/check-$1.log

	mkdir -p "$B/vm-$1"
	IMGDIR=$B/vm-$1 VM_KERNEL=$2 VM_INITRD=$3 APPEND="$4 $APPEND_ALL" \
		"$RIG/run-vm.sh" check "$log"
	grep -E '^(RIG|QEMU)' "$log" | sed "s/^/$1: /"
}

for run in "${runs[@]}"; do
	IFS='|' read -r label kernel initrd append <<<"$run"
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	echo "booting the rig: $label (TCG); console log: $LOGDIR/check-$label.log"
	one_run "$label" "$kernel" "$initrd" "$append" &
done
wait
