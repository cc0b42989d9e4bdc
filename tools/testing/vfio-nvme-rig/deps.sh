#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian 12 packages the rig needs (see README, "What gets installed"),
# or with arguments those packages instead (make bench: gnuplot-nox).
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PKGS=(
	# kernel builds (out-of-tree modules, drivers/nvme/host, the debug kernel)
	gcc make flex bison bc libelf-dev libssl-dev dwarves kmod cpio xz-utils zstd rsync
	# code checks: sparse for make C=1, perl for checkpatch.pl
	sparse perl
	# QEMU 10.0 from Debian's source package, x86_64-softmmu only; its configure makes a
	# Python venv (python3-venv) whose scripts it writes with pip's distlib (python3-pip)
	dpkg-dev ninja-build pkg-config python3 python3-venv python3-pip
	libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
	# firmware the QEMU we build boots with (SeaBIOS, linuxboot option ROM)
	seabios qemu-system-data
	# guest userspace: shell, nvme-cli, libnvme for the selftests
	busybox-static nvme-cli libnvme-dev
	# the Debian roots of the libvirt migration test (build-libvirt-root.sh) and of the
	# package test (test-dkms-package.sh)
	mmdebstrap
	# make deb: the nvme-vfio-pci-dkms package (scripts/package), checked with lintian
	debhelper dh-dkms lintian
)

# From bookworm-backports, with the least version needed: QEMU 10.0's configure needs
# meson >= 1.5 and pycotap >= 1.1 installed (Debian's source package leaves python/wheels,
# QEMU's bundled copies, empty), and bookworm has meson 1.0.1 and no pycotap.
BPO_PKGS=(meson:1.5 python3-pycotap:1.1)
if [ $# -gt 0 ]; then
	PKGS=("$@") BPO_PKGS=()
fi
BPO_LIST=/etc/apt/sources.list.d/bookworm-backports.list

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=() bpo=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
for pv in "${BPO_PKGS[@]}"; do
	p=${pv%%:*}
	installed "$p" && dpkg --compare-versions "$(dpkg-query -W -f='${Version}' "$p")" ge "${pv#*:}" ||
		bpo+=("$p/bookworm-backports")
done
[ ${#missing[@]} -eq 0 ] && [ ${#bpo[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: need root to install: ${missing[*]} ${bpo[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]} ${bpo[*]}"
export DEBIAN_FRONTEND=noninteractive
# backports are pinned below bookworm: only the packages named with /bookworm-backports
# come from there
if [ ${#bpo[@]} -gt 0 ] && ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$BPO_LIST"
fi
apt-get update -q || apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" "${bpo[@]}"
