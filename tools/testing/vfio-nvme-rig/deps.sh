#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian 12 packages the rig needs (see README, "What gets installed").
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PKGS=(
	# kernel builds (out-of-tree modules, drivers/nvme/host, the debug kernel)
	gcc make flex bison bc libelf-dev libssl-dev dwarves kmod cpio xz-utils zstd rsync
	# code checks: sparse for make C=1, perl for checkpatch.pl
	sparse perl
	# QEMU 7.2 from Debian's source package, x86_64-softmmu only
	dpkg-dev ninja-build meson pkg-config python3 libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
	# firmware the QEMU we build boots with (SeaBIOS, linuxboot option ROM)
	seabios qemu-system-data
	# guest userspace: shell, nvme-cli, libnvme for the selftests
	busybox-static nvme-cli libnvme-dev
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
