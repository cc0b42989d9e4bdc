#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boot the rig with rig=bench (guest/bench.sh) on Debian's kernel for
# the data path, downtime, concurrency and QEMU figures, and on the debug kernel for
# DMA logging (Debian's kernel has no IOMMUFD_DRIVER); then bench-report.py writes
# the tables and plots to build/bench.  Timings are TCG's: only ratios and shapes
# mean anything.  The drives get every VF online (15 on each PF) and room for one
# VF with 16 I/O queue pairs.
# env: BENCH_KERNELS (default "debian debug"), BENCH_REPS (default 5),
#      BENCH_FIGURES_debian (default datapath,downtime,concurrent,qemu),
#      BENCH_FIGURES_debug (default dirty)
set -uo pipefail
. "$(dirname "$0")/common.sh"

OUT=$B/bench
mkdir -p "$OUT"
# 15 VFs with 2 queues and 1 interrupt each, and one of them with 17 queues
export NVME_SRIOV=max_ioqpairs=50,msix_qsize=24,sriov_max_vfs=15,sriov_vq_flexible=46,sriov_vi_flexible=16,sriov_max_vq_per_vf=17
rc=0 logs=()
for k in ${BENCH_KERNELS:-debian debug}; do
	case $k in
	debian)	figs=${BENCH_FIGURES_debian:-datapath,downtime,concurrent,qemu} ;;
	debug)	figs=${BENCH_FIGURES_debug:-dirty} ;;
	*)	die "BENCH_KERNELS: $k is not debian or debug" ;;
	esac
	kernel=VM_KERNEL_$k initrd=INITRD_$k
	logs+=("$OUT/bench-$k.log")
	echo "make bench: $figs on the $k kernel (TCG); console log: $OUT/bench-$k.log"
	VM_KERNEL=${!kernel} VM_INITRD=${!initrd} TIMEOUT=${TIMEOUT:-5400} \
		APPEND="RIG_VFS=15 RIG_ONLINE=15 BENCH_FIGURES=$figs BENCH_REPS=${BENCH_REPS:-5}" \
		"$RIG/run-vm.sh" bench "$OUT/bench-$k.log"
	grep -a -E '^(BENCH (failed|done)|RIG-DONE|QEMU rc)' "$OUT/bench-$k.log"
	grep -aq 'RIG-DONE rc=0' "$OUT/bench-$k.log" || rc=1
done
python3 "$RIG/bench-report.py" "$OUT" "${logs[@]}" || rc=1
exit $rc
