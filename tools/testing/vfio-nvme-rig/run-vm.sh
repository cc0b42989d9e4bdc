#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test guest under QEMU TCG: q35, emulated intel-iommu, and two NVMe PFs
# with SR-IOV and TP4159 live migration (0: source drive, 1: destination drive), each
# in its own subsystem, with a namespace of its own, one on a shared image and a
# detached one; and a third PF with SR-IOV but without live migration.  The console
# goes to LOG; the run is bounded by TIMEOUT seconds.
# usage: run-vm.sh MODE LOG      (MODE: check | demo | bench | shell)
# env:   VM_KERNEL VM_INITRD TIMEOUT MEM SMP CPU ACCEL QEMU_BIN APPEND NVME_SRIOV
#        IMGDIR (the drives' disk images, build/ by default; one per run when runs
#        go side by side, run-checks.sh)
# 3 GiB of memory by default: the image carries libvirt's root (about 200 MiB,
# unpacked in RAM) and the libvirt test runs two nested QEMUs.
# The CPU has no 5-level paging: the KASAN debug kernel under TCG reported a wild
# access in early boot (identify_cpu, interrupt entry) with la57 on.
# TCG runs single-threaded (ACCEL): with one thread per vCPU, QEMU 10.0 crashed
# (SIGSEGV in memory_region_section_get_iotlb) under the stream fuzz's hundreds
# of VF resets.  Its tcg_iommu_unmap_notify() calls tlb_flush() for every vCPU
# from the thread handling the IOMMU invalidation, and since 10.0 tlb_flush()
# flushes on the calling thread (7.2 deferred it to the owning vCPU), so one
# thread clears a TLB another is using.  One thread costs about 20 % of a run.
set -uo pipefail
. "$(dirname "$0")/common.sh"

MODE=$1 LOG=$2

# The rig's old 2.5 % flake (a test's userspace driver wrote CC.EN=1 and never
# saw CSTS.RDY; CC read back 0) was QEMU 7.2's TCG: tcg_commit() swapped a
# vCPU's memory dispatch from another thread while that vCPU was in an MMIO
# access, so a write to one VF's BAR was lost while another VF's BAR was being
# remapped (its reset or close).  QEMU 8.2 defers the swap to the vCPU
# ("softmmu: Use async_run_on_cpu in tcg_commit"); with that change backported
# to 7.2, 4,000 parallel starts had no failure, against 5 without it.
qver=$("$QEMU_BIN" --version | sed -n '1s/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r qmaj qmin <<<"${qver:-0 0}"
if [ $((qmaj * 100 + qmin)) -lt 802 ]; then
	die "$QEMU_BIN is QEMU ${qmaj}.${qmin}: the rig needs 8.2 or later (TCG loses MMIO writes during BAR remaps before 8.2)"
fi
KERNEL=${VM_KERNEL:-$KROOT/boot/vmlinuz-$KREL}
INITRD=${VM_INITRD:-$B/initramfs.cpio.gz}
TIMEOUT=${TIMEOUT:-2700}
DISK_MB=${DISK_MB:-64}
IMG=${IMGDIR:-$B}
# SR-IOV resources of each drive: 4 VFs, 8 flexible queues and 4 interrupts to give
# them.  make bench asks for more (every VF online, one with 16 queue pairs).
SRIOV=${NVME_SRIOV:-max_ioqpairs=12,msix_qsize=16,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4}

# namespace 1: the drive's own disk (local storage, migrated by copying; discards
# punch holes, so Get LBA Status reports them unallocated);
# namespace 2: one disk image that both drives attach (shared storage);
# namespace 3: a small disk that no controller gets at boot or at enable
# (detached=on), which tests give to and take from VFs with Namespace
# Attachment, as a host administrator would.
shared=$IMG/disk-shared.img
[ -e "$shared" ] || truncate -s ${DISK_MB}M "$shared"
# Drive 1 has a smaller MDTS (32 KiB, QEMU's default is 512 KiB), as many
# real drives do: a controller state larger than that must move in pieces.
drives=()
mdts=(7 3)
for i in 0 1; do
	img=$IMG/disk$i.img
	[ -e "$img" ] || truncate -s ${DISK_MB}M "$img"
	spare=$IMG/disk$i-spare.img
	[ -e "$spare" ] || truncate -s 4M "$spare"
	drives+=(-device pcie-root-port,id=rp$i,chassis=$((i + 1)),slot=$((i + 1))
		-device nvme-subsys,id=subsys$i,nqn=nqn.2026-11.org.vfio-nvme:drive$i
		-device nvme,id=nvme$i,serial=VFNVME000$i,subsys=subsys$i,bus=rp$i,hmlms=on,mdts=${mdts[i]},$SRIOV
		-drive file=$img,if=none,id=local$i,format=raw,cache=unsafe,discard=unmap
		-device nvme-ns,drive=local$i,nsid=1,bus=nvme$i
		-drive file=$shared,if=none,id=shared$i,format=raw,cache=unsafe,file.locking=off
		-device nvme-ns,drive=shared$i,nsid=2,bus=nvme$i
		-drive file=$spare,if=none,id=spare$i,format=raw,cache=unsafe
		-device nvme-ns,drive=spare$i,nsid=3,bus=nvme$i,detached=on)
done
# a third drive without TP4159: nvme-vfio-pci passes its VFs through
img=$IMG/disk2.img
[ -e "$img" ] || truncate -s ${DISK_MB}M "$img"
drives+=(-device pcie-root-port,id=rp2,chassis=3,slot=3
	-device nvme-subsys,id=subsys2,nqn=nqn.2026-11.org.vfio-nvme:drive2
	-device nvme,id=nvme2,serial=VFNVME0002,subsys=subsys2,bus=rp2,$SRIOV
	-drive file=$img,if=none,id=local2,format=raw,cache=unsafe
	-device nvme-ns,drive=local2,nsid=1,bus=nvme2)

if [ "$MODE" = shell ]; then serial=(-serial mon:stdio); else serial=(-serial "file:$LOG"); fi
mkdir -p "$(dirname "$LOG")"
start=$(date +%s.%N)
timeout --foreground -k 10 "$TIMEOUT" "$QEMU_BIN" -L /usr/share/seabios -L /usr/share/qemu \
	-machine q35 -accel "${ACCEL:-tcg,thread=single}" -cpu "${CPU:-max,la57=off}" -m "${MEM:-3G}" -smp "${SMP:-2}" \
	-nographic -no-reboot -nodefaults "${serial[@]}" \
	-device intel-iommu,intremap=on \
	-kernel "$KERNEL" -initrd "$INITRD" \
	-append "console=ttyS0 panic=-1 loglevel=4 intel_iommu=on nvme_core.multipath=0 rig=$MODE ${APPEND:-}" \
	"${drives[@]}"
rc=$?
printf 'QEMU rc=%d wall=%.1fs\n' $rc "$(echo "$(date +%s.%N) - $start" | bc)" >> "$LOG"
exit $rc
