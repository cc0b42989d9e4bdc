#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test guest under QEMU TCG: q35, emulated intel-iommu, and two NVMe PFs
# with SR-IOV (0: source drive, 1: destination drive), each in its own subsystem with
# one namespace backed by a sparse file.  The console goes to LOG; the run is bounded
# by TIMEOUT seconds.
# usage: run-vm.sh MODE LOG      (MODE: check | demo | shell)
# env:   KERNEL INITRD TIMEOUT MEM SMP QEMU_BIN APPEND
set -uo pipefail
. "$(dirname "$0")/common.sh"

MODE=$1 LOG=$2
KERNEL=${KERNEL:-$KROOT/boot/vmlinuz-$KREL}
INITRD=${INITRD:-$B/initramfs.cpio.gz}
TIMEOUT=${TIMEOUT:-600}
DISK_MB=${DISK_MB:-64}

drives=()
for i in 0 1; do
	img=$B/disk$i.img
	[ -e "$img" ] || truncate -s ${DISK_MB}M "$img"
	drives+=(-device pcie-root-port,id=rp$i,chassis=$((i + 1)),slot=$((i + 1))
		-device nvme-subsys,id=subsys$i,nqn=nqn.2026-11.org.vfio-nvme:drive$i
		-device nvme,id=nvme$i,serial=VFNVME000$i,subsys=subsys$i,bus=rp$i,max_ioqpairs=12,msix_qsize=16,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4
		-drive file=$img,if=none,id=ns$i,format=raw,cache=unsafe
		-device nvme-ns,drive=ns$i,nsid=1,bus=nvme$i)
done

if [ "$MODE" = shell ]; then serial=(-serial mon:stdio); else serial=(-serial "file:$LOG"); fi
mkdir -p "$(dirname "$LOG")"
start=$(date +%s.%N)
timeout --foreground -k 10 "$TIMEOUT" "$QEMU_BIN" -L /usr/share/seabios -L /usr/share/qemu \
	-machine q35 -accel tcg -cpu max -m "${MEM:-2G}" -smp "${SMP:-2}" \
	-nographic -no-reboot -nodefaults "${serial[@]}" \
	-device intel-iommu,intremap=on \
	-kernel "$KERNEL" -initrd "$INITRD" \
	-append "console=ttyS0 panic=-1 loglevel=4 intel_iommu=on rig=$MODE ${APPEND:-}" \
	"${drives[@]}"
rc=$?
printf 'QEMU rc=%d wall=%.1fs\n' $rc "$(echo "$(date +%s.%N) - $start" | bc)" >> "$LOG"
exit $rc
