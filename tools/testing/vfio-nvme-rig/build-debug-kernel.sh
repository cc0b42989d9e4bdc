#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the debug guest kernel from the patched tree ($B/linux) with nvme-vfio-pci
# in tree: KASAN, lockdep (PROVE_LOCKING), DEBUG_ATOMIC_SLEEP, kmemleak (scans on
# demand only), KUnit, VFIO_NOIOMMU,
# IOMMUFD, the VFIO cdev and userfaultfd (mig_race_test stalls a data fd call in
# one).  Output: $B/debug-kernel (objects), bzImage, and the
# modules installed under $B/debug-kroot.
set -euo pipefail
. "$(dirname "$0")/common.sh"

O=$B/debug-kernel
mkdir -p "$O"
cd "$B/linux"
if [ ! -e "$O/.config" ] || [ "$RIG/build-debug-kernel.sh" -nt "$O/.config" ]; then
	make -s O="$O" x86_64_defconfig kvm_guest.config
	C="scripts/config --file $O/.config"
	$C --set-str LOCALVERSION -vfio-nvme-debug -d LOCALVERSION_AUTO \
		-e PCI_IOV -e PCI_MSI -m NVME_CORE -m BLK_DEV_NVME \
		-m VFIO -e VFIO_GROUP -e VFIO_CONTAINER -e VFIO_NOIOMMU -m VFIO_PCI_CORE -m VFIO_PCI \
		-e VFIO_PCI_MMAP -e VFIO_PCI_INTX -m IOMMUFD -e VFIO_DEVICE_CDEV -e VFIO_DEBUGFS \
		-m NVME_VFIO_PCI -m NVME_LM_KUNIT_TEST \
		-e IOMMU_SUPPORT -e INTEL_IOMMU -d INTEL_IOMMU_DEFAULT_ON -e IRQ_REMAP \
		-e MODULES -e MODULE_UNLOAD -e DEVTMPFS -e DEVTMPFS_MOUNT -e BLK_DEV_INITRD \
		-e DEBUG_FS -e FTRACE -e FUNCTION_TRACER -e DYNAMIC_DEBUG \
		-e KASAN -e KASAN_GENERIC -e KASAN_OUTLINE -e PROVE_LOCKING -e DEBUG_ATOMIC_SLEEP \
		-e USERFAULTFD -e DEBUG_LIST -e KUNIT -e KUNIT_DEBUGFS -e DEBUG_KMEMLEAK -d DEBUG_KMEMLEAK_AUTO_SCAN \
		-d DEBUG_INFO -d DEBUG_INFO_DWARF5 -d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT -e DEBUG_INFO_NONE \
		-d DRM -d SOUND -d WLAN -d WIRELESS -d USB_SUPPORT -d HID -d INPUT_JOYSTICK -d NETDEVICES
	make -s O="$O" olddefconfig
	for opt in KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK KUNIT VFIO_NOIOMMU IOMMUFD USERFAULTFD \
		VFIO_DEVICE_CDEV NVME_VFIO_PCI NVME_LM_KUNIT_TEST; do
		grep -qE "^CONFIG_$opt=[ym]" "$O/.config" || die "debug kernel config lacks CONFIG_$opt"
	done
fi
log "build debug kernel (bzImage, modules)"
make -s O="$O" -j"$J" bzImage modules
rm -rf "$B/debug-kroot.new"
make -s O="$O" INSTALL_MOD_PATH="$B/debug-kroot.new" modules_install
rm -rf "$B/debug-kroot" && mv "$B/debug-kroot.new" "$B/debug-kroot"
cp "$O/arch/x86/boot/bzImage" "$B/debug-kroot/bzImage"
make -s O="$O" kernelrelease > "$B/debug-kroot/kernelrelease"
log "debug kernel $(cat "$B/debug-kroot/kernelrelease") ready"
