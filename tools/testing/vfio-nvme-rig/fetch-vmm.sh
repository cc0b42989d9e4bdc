#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the VMM that qemu_migration_test runs inside the guest: Debian's binary QEMU 10.0
# from bookworm-backports (the rig's own QEMU is the same version plus the TP4159 device), and the
# libraries and firmware it needs that the host lacks, unpacked with dpkg -x
# under $B/vmm.  The host's apt configuration and packages are left alone: apt
# runs with a source list, package lists and archive directory of our own.
set -euo pipefail
. "$(dirname "$0")/common.sh"

VMM=$B/vmm
A=$CACHE/vmm-apt
[ -e "$VMM/.done" ] && exit 0
mkdir -p "$A/lists/partial" "$A/archives/partial"
if ! ls "$A"/archives/qemu-system-x86_*.deb >/dev/null 2>&1; then
	mirror=${VMM_MIRROR:-$(debian_mirror)}
	printf 'deb %s bookworm-backports main\ndeb %s bookworm main\n' "$mirror" "$mirror" > "$A/sources.list"
	apto=(-q -o Dir::Etc::sourcelist="$A/sources.list" -o Dir::Etc::sourceparts=-
	      -o Dir::State::Lists="$A/lists" -o Dir::Cache::archives="$A/archives"
	      -o APT::Sandbox::User=root)
	log "download QEMU from bookworm-backports ($mirror)"
	apt-get "${apto[@]}" update >/dev/null
	apt-get "${apto[@]}" install -y --download-only --no-install-recommends \
		-t bookworm-backports qemu-system-x86 >/dev/null
fi
rm -rf "$VMM"
for d in "$A"/archives/*.deb; do dpkg -x "$d" "$VMM"; done
touch "$VMM/.done"
log "VMM: $(LD_LIBRARY_PATH=$VMM/usr/lib/x86_64-linux-gnu:$VMM/lib/x86_64-linux-gnu \
	"$VMM/usr/bin/qemu-system-x86_64" --version | head -1)"
