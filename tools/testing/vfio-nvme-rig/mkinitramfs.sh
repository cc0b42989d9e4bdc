#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs: busybox, the guest kernel's modules that the tests need
# (with drivers/nvme/host replaced by our rebuilt, patched modules and our own
# modules added), nvme-cli, the selftests and the guest scripts; with VMM_ROOT and
# L2_GUEST set, also QEMU 10.0 and the nested guest for qemu_migration_test;
# with LIBVIRT_ROOT set, the libvirt root of libvirt_migration_test.
# usage: mkinitramfs.sh OUT.cpio.gz MODROOT KREL NVME_HOST_DIR OUR_KO... -- SELFTEST_DIR
# (NVME_HOST_DIR "-" and no OUR_KO for a kernel built with everything in tree)
set -euo pipefail
. "$(dirname "$0")/common.sh"

OUT=$1 MODROOT=$2 KV=$3 NVMEHOST=$4
shift 4
OURKO=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do OURKO+=("$1"); shift; done
shift
TESTS=$1

W=$(mktemp -d "$B/initramfs.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,lib64,usr/bin,usr/sbin,selftests,rig}
cp /bin/busybox "$W/bin/busybox"
for a in $("$W/bin/busybox" --list); do [ -e "$W/bin/$a" ] || ln -s busybox "$W/bin/$a"; done

# the closure of the modules the tests load, decompressed for busybox modprobe
M=$W/lib/modules/$KV
mkdir -p "$M"
for m in nvme nvme-core vfio vfio-pci vfio-pci-core vfio_iommu_type1 iommufd irqbypass nvme-vfio-pci \
	pci-lm-test; do
	# a module may be built in, or absent (Debian has no iommufd)
	{ modprobe -d "$MODROOT" -S "$KV" --show-depends "$m" 2>/dev/null || true; } |
		awk '$1=="insmod"{print $2}'
done | sort -u | while read -r f; do
	rel=${f#*/lib/modules/$KV/}
	dst=$M/${rel%.xz}; dst=${dst%.zst}
	mkdir -p "$(dirname "$dst")"
	case $f in
	*.xz) xz -dc "$f" > "$dst" ;;
	*.zst) zstd -qdc "$f" > "$dst" ;;
	*) cp "$f" "$dst" ;;
	esac
done
# drivers/nvme/host as we rebuilt it (PF-side patch applied) replaces the stock modules
for ko in $([ -d "$NVMEHOST" ] && ls "$NVMEHOST"/*.ko); do
	dst=$(find "$M/kernel/drivers/nvme/host" -name "$(basename "$ko")" | head -1)
	[ -n "$dst" ] && cp "$ko" "$dst"
done
mkdir -p "$M/extra"
for ko in "${OURKO[@]}"; do cp "$ko" "$M/extra/"; done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -e "$MODROOT/lib/modules/$KV/$f" ] && sed 's/\.ko\.\(xz\|zst\)$/.ko/' "$MODROOT/lib/modules/$KV/$f" > "$M/$f"
done
depmod -b "$W" "$KV"

# copy_bin FILE [ROOT]: ROOT/FILE (ROOT: a dpkg -x tree, default /) and the
# libraries it links, from ROOT first, to the same paths in the image
copy_bin() {
	local root=${2:-} libs l dst
	libs=$(LD_LIBRARY_PATH=${root:+$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu} \
		ldd "$root$1")
	if grep -q 'not found' <<< "$libs"; then
		die "$root$1 lacks libraries: $(grep 'not found' <<< "$libs" | tr -s '\t\n' ' ')"
	fi
	cp "$root$1" "$W$1"
	for l in $(grep -o '/[^ ]*\.so[^ ]*' <<< "$libs"); do
		dst=$W${l#"$root"}
		mkdir -p "$(dirname "$dst")"
		cp -L "$l" "$dst"
	done
}
copy_bin /usr/sbin/nvme

# the VMM of qemu_migration_test (QEMU 10.0, see fetch-vmm.sh) and its guest
if [ -n "${VMM_ROOT:-}" ]; then
	copy_bin /usr/bin/qemu-system-x86_64 "$VMM_ROOT"
	mkdir -p "$W/usr/share/qemu"
	cp "$VMM_ROOT"/usr/share/seabios/bios-256k.bin "$VMM_ROOT"/usr/share/qemu/multiboot_dma.bin \
		"$VMM_ROOT"/usr/share/qemu/linuxboot_dma.bin "$VMM_ROOT"/usr/share/qemu/kvmvapic.bin \
		"$W/usr/share/qemu/"
fi

cp -a "$TESTS"/. "$W/selftests/"
# kselftest's shell helpers, where the tests find them in an installed kselftest tree
# (the Makefile copies them next to the selftests' output directory)
cp -a "$(dirname "$TESTS")/kselftest" "$W/"
# the operator's check tool: the tree's, or (NVME_VFIO_CHECK) the one a package installed
cp "${NVME_VFIO_CHECK:-$TOP/tools/nvme-vfio/nvme-vfio-check}" "$W/usr/sbin/"
[ -n "${L2_GUEST:-}" ] && cp "$L2_GUEST" "$W/selftests/"
cp "$RIG"/guest/* "$W/rig/"
ln -s rig/init "$W/init"

(cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT.tmp"
# with LIBVIRT_ROOT, the libvirt root (build-libvirt-root.sh) follows as a
# second archive (see pad4 in common.sh)
if [ -n "${LIBVIRT_ROOT:-}" ]; then
	pad4 "$OUT.tmp"
	cat "$LIBVIRT_ROOT" >> "$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
