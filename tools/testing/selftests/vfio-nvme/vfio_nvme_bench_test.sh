#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench's tool, vfio-nvme-bench, on the rig's usual drives (VFs 1 and 2 online),
# so that it keeps working between benchmark runs: each kind of measurement once,
# small, exiting 0 with its BENCH lines well formed and saying nothing failed.
# Nothing about time is checked.  DMA logging needs a kernel with IOMMUFD_DRIVER.
DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

# bench PATTERN ARGS: vfio-nvme-bench ARGS; $out its output, $rc its exit status, and
# $found 0 when a line matches PATTERN
bench() {
	pat=$1
	shift
	out=$(vfio-nvme-bench "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	printf '%s\n' "$out" | grep -q "$pat"
	found=$?
}

ktap_print_header
ktap_set_plan 4

bench '^BENCH datapath driver=nvme_vfio_pci rw=read qd=8 .* errors=0 bar0_bytes=[1-9][0-9]* bar0_mmap_bytes=[1-9]' \
	datapath nvme_vfio_pci read 8 200
[ $rc = 0 ] && [ $found = 0 ]
ktap_test_result "bench.datapath" [ $? = 0 ]

# two migrations back and forth, 4 writes queued on the stopped source each time
bench '^BENCH downtime qp=1 outstanding=4 rep=1 downtime_ms=[0-9.]* .* stop_copy_bytes=[1-9][0-9]* admin_cmds=4 ' \
	downtime 1 4 2
[ $rc = 0 ] && [ $found = 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^BENCH downtime ')" = 2 ]
ktap_test_result "bench.downtime" [ $? = 0 ]

bench '^BENCH concurrent n=2 rep=0 last_running_ms=[1-9][0-9.]* failures=0 start_failures=0 ' \
	concurrent 2 1
[ $rc = 0 ] && [ $found = 0 ] &&
	[ "$(printf '%s\n' "$out" | grep -c '^BENCH concurrent_vf n=2 rep=0 vf=[12] ')" = 2 ]
ktap_test_result "bench.concurrent" [ $? = 0 ]

bench '^BENCH dirty range_mib=128 dirty_pages=4 rep=0 report_ms=[0-9.]* track_receive_cmds=1 reported_pages=4$' \
	dirty 128 4 1
if echo "$out" | grep -q 'DMA logging (a kernel with IOMMUFD_DRIVER)'; then
	ktap_test_skip "bench.dirty (no DMA logging on $(uname -r))"
else
	[ $rc = 0 ] && [ $found = 0 ]
	ktap_test_result "bench.dirty" [ $? = 0 ]
fi
ktap_finished
