#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench, the guest's side: the measurements, as "BENCH <figure> key=value"
# lines on the console, which bench-report.py turns into tables and plots.
# Timings only, never a verdict on them; a run that fails (a lost command, a
# failed migration) is counted and makes the exit status non-zero.
# Environment (from the kernel command line, see run-bench.sh):
#   BENCH_FIGURES   comma-separated, any of: datapath downtime concurrent qemu dirty
#   BENCH_REPS      repetitions of each point (default 5)
figures=$(echo "${BENCH_FIGURES:-datapath,downtime,concurrent,qemu}" | tr , " ")
reps=${BENCH_REPS:-5}
rc=0

# a failed run leaves its stderr on the console, and counts
run() {
	"$@" || { echo "BENCH failed cmd=\"$*\""; rc=1; }
}

echo "BENCH kernel release=$(uname -r) cpus=$(nproc) figures=\"$figures\" reps=$reps"
for f in $figures; do
	echo "RIG: bench $f at $(cut -d' ' -f1 /proc/uptime)s"
	case $f in
	datapath)
		# the two drivers alternate at every point, in turn first and
		# second (ABBA), so a drift hits both; pairs of 1 s runs, after
		# one run of each that is not counted (the first run after boot
		# was the slowest of its point in every run: 6.8k and 8.4k IOPS
		# against a median of 16k)
		for drv in nvme_vfio_pci vfio-pci; do
			run vfio-nvme-bench datapath "$drv" read 8 1000 > /dev/null
		done
		for rep in $(seq $((reps * 2 - 1))); do
			if [ $((rep % 2)) = 1 ]; then order="nvme_vfio_pci vfio-pci"
			else order="vfio-pci nvme_vfio_pci"; fi
			for rw in read write; do
				for qd in 1 8 32; do
					for drv in $order; do
						run vfio-nvme-bench datapath "$drv" $rw $qd 1000
					done
				done
			done
		done ;;
	downtime)
		for qp in 1 2 4 8 16; do
			run vfio-nvme-bench downtime $qp 0 $((reps * 2 + 1))
		done
		for out in 0 1 4 16 32 64; do
			run vfio-nvme-bench downtime 1 $out $((reps * 2 + 1))
		done ;;
	concurrent)
		# N = 0: every VF of the PF
		for n in 1 2 4 8 0; do
			run vfio-nvme-bench concurrent $n "$reps"
		done ;;
	qemu)
		# the nested QEMU 10.0 of qemu_migration_test, driven over QMP
		for rep in $(seq 3); do
			qemu_migration_test -t migrate_guest_with_io_in_flight > /tmp/qemu-bench.out 2>&1 ||
				{ tail -20 /tmp/qemu-bench.out; echo "BENCH failed cmd=qemu_migration_test"; rc=1; }
			sed -n "s/.*QEMU migrated the guest: total \([0-9]*\) ms, downtime \([0-9]*\) ms; VF state \([0-9]*\) bytes.*/BENCH qemu rep=$rep total_ms=\1 downtime_ms=\2 vf_state_bytes=\3/p" \
				/tmp/qemu-bench.out
		done ;;
	dirty)
		for mib in 128 1024 8192 65536; do
			run vfio-nvme-bench dirty $mib 16 "$reps"
		done
		for pages in 0 1 16 256 1024; do
			run vfio-nvme-bench dirty 1024 $pages "$reps"
		done ;;
	*)
		echo "BENCH failed cmd=\"unknown figure $f\""; rc=1 ;;
	esac
done
echo "BENCH done rc=$rc"
exit $rc
