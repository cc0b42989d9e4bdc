#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build a Debian 12 root with libvirt 11.3 and QEMU 10.0 (both from bookworm-backports) for the
# libvirt end-to-end test: the L1 guest unpacks it at /libvirt, and guest/libvirt-hosts.sh chroots
# into it to run two libvirtd "hosts" that migrate a domain to each other.
# usage: build-libvirt-root.sh OUT.cpio.gz
#
# OUT is a newc cpio, gzip -1, whose paths are under libvirt/, to be appended to the rig's
# initramfs (the kernel unpacks concatenated archives one after the other; see pad4 in common.sh
# for the padding between them).  The archive is cached in $CACHE, keyed by the exact versions of
# every package in the root and by this script (a change to the pruning below rebuilds it).
set -euo pipefail
. "$(dirname "$0")/common.sh"

OUT=${1:?usage: build-libvirt-root.sh OUT.cpio.gz}
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (tools/testing/vfio-nvme-rig/deps.sh)"
[ "$(id -u)" = 0 ] || die "build-libvirt-root.sh runs mmdebstrap as root (its root mode)"

# The packages asked for; apt adds their hard dependencies, never recommends.
PKGS=(
	# libvirtd (the monolithic daemon; also pulls libvirt-daemon-common, -log, polkitd)
	libvirt-daemon
	# the QEMU driver libvirtd loads (connection-driver/libvirt_driver_qemu.so)
	libvirt-daemon-driver-qemu
	# virsh, which the test drives both hosts with
	libvirt-clients
	# qemu-system-x86_64 and the firmware it boots a -machine pc guest with
	qemu-system-x86
	# libvirt-daemon-driver-qemu depends on "systemd-container | sysvinit-core"; sysvinit-core
	# is the small one, and it keeps systemd out (polkitd's logind dependency then resolves to
	# elogind).  Nothing of it runs: libvirtd is started by hand.
	sysvinit-core
	# init-system-helpers depends on "usrmerge | usr-is-merged"; apt would take usrmerge and
	# with it perl (50 MiB).  mmdebstrap's merged-usr hook makes the /usr symlinks and installs
	# usr-is-merged with the essential set; it is named here for the version resolution below.
	usr-is-merged
)
SUITE=bookworm
# libvirt 11.3 and QEMU 10.0 are only in bookworm-backports (bookworm has libvirt 9.0 and
# QEMU 7.2): it is the default release, so every package it has comes from there, as with
# apt-get -t bookworm-backports.
DEFREL=bookworm-backports

mirror=${LIBVIRT_MIRROR:-${VMM_MIRROR:-$(debian_mirror)}}
SOURCES=("deb $mirror $SUITE main" "deb $mirror $DEFREL main")

# Resolve the exact versions with an apt of our own (source list, package lists, an empty dpkg
# status, no host preferences): the Essential:yes packages of bookworm (what mmdebstrap's
# essential variant installs; apt counts itself as essential but that variant leaves it out)
# plus PKGS and their dependencies.
A=$CACHE/libvirt-apt
mkdir -p "$A/lists/partial" "$A/cache" "$A/prefs.d"
: > "$A/status"
printf '%s\n' "${SOURCES[@]}" > "$A/sources.list"
apto=(-q -o Dir::Etc::sourcelist="$A/sources.list" -o Dir::Etc::sourceparts=-
      -o Dir::State::Lists="$A/lists" -o Dir::State::status="$A/status" -o Dir::Cache="$A/cache"
      -o Dir::Etc::preferences="$A/prefs" -o Dir::Etc::preferencesparts="$A/prefs.d"
      -o APT::Sandbox::User=root -o APT::Architecture=amd64 -o APT::Install-Recommends=false
      -o APT::Default-Release="$DEFREL")
log "resolve package versions ($mirror $SUITE + $DEFREL)"
apt-get "${apto[@]}" update >/dev/null
resolved() {
	apt-get "${apto[@]}" install -s "?and(?essential,?codename(^$SUITE\$),?not(?exact-name(apt)))" "${PKGS[@]}" |
		sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' | LC_ALL=C sort
}
want=$(resolved)
[ -n "$want" ] || die "apt resolved no packages"
for p in libvirt-daemon qemu-system-x86; do
	grep -q "^$p=.*bpo12" <<< "$want" || die "$p does not come from $DEFREL: $(grep "^$p=" <<< "$want")"
done
key=$( { echo "$want"; cat "$0"; } | sha256sum | cut -c1-16)
C=$CACHE/libvirt-root-$key.cpio.gz

if [ -e "$C" ]; then
	how=cached
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/libvirt-root.XXXXXX")
	# not into a /dev or /proc that a killed mmdebstrap left mounted in the root
	trap 'rm -rf --one-file-system "$W"' EXIT
	R=$W/libvirt
	t0=$(date +%s)
	log "mmdebstrap $SUITE + $DEFREL: ${PKGS[*]}"
	# essential: the smallest variant that still configures packages (dpkg, sh, coreutils...);
	# no apt in the root.  The dpkg path filters keep documentation, manual pages and
	# translations out (nothing reads them; the copyright files stay).
	mmdebstrap --variant=essential --mode=root -q \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--aptopt="APT::Default-Release \"$DEFREL\"" \
		--aptopt='APT::Install-Recommends "false"' \
		--include="$(IFS=,; echo "${PKGS[*]}")" \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		"$SUITE" "$R" "${SOURCES[@]}" > "$W/mmdebstrap.log" 2>&1 ||
		{ tail -40 "$W/mmdebstrap.log"; die "mmdebstrap failed"; }
	t1=$(date +%s)
	# the root must hold every version the cache key names (the archive may have moved on
	# between the resolution above and mmdebstrap's own).  It may hold a few more: mmdebstrap
	# installs the essential set first, whose libsystemd0 elogind's libelogind0 then replaces,
	# leaving libsystemd0's own dependencies behind.
	# shellcheck disable=SC2016
	got=$(chroot "$R" /usr/bin/dpkg-query -W -f='${db:Status-Abbrev} ${Package}=${Version}\n' |
		sed -n 's/^ii  //p' | LC_ALL=C sort)
	miss=$(LC_ALL=C comm -23 <(echo "$want") <(echo "$got"))
	[ -z "$miss" ] || die "mmdebstrap did not install what was resolved: $(tr "\n" " " <<< "$miss")"
	log "root: $(du -sm "$R" | cut -f1) MiB before pruning"

	# Pruning.  Nothing in the root is upgraded or reinstalled, so dpkg's view of it may be stale.
	# QEMU's firmware: a -machine pc guest started by libvirt (-nodefaults, -kernel, no NIC, no
	# display) reads bios-256k.bin (SeaBIOS), kvmvapic.bin (the TPR patching ROM every pc machine
	# with an APIC loads), linuxboot_dma.bin and multiboot_dma.bin (the -kernel loaders).  The
	# rest (VGA BIOSes, iPXE NIC ROMs, other machines' and architectures' firmware, keymaps for
	# VNC, trace-events-all for simpletrace) is never loaded.  Debian's QEMU searches
	# /usr/share/qemu, /usr/share/seabios and /usr/lib/ipxe/qemu for firmware.
	find "$R/usr/share/qemu" -mindepth 1 -maxdepth 1 ! -name kvmvapic.bin \
		! -name linuxboot_dma.bin ! -name multiboot_dma.bin -exec rm -rf {} +
	find "$R/usr/share/seabios" -mindepth 1 ! -name bios-256k.bin -delete
	rm -rf "$R/usr/lib/ipxe"
	# the other system emulators of qemu-system-x86: unused, and libvirt probes every
	# qemu-system-* it finds when it starts
	rm -f "$R/usr/bin/qemu-system-i386" "$R/usr/bin/qemu-system-x86_64-microvm"
	# QEMU's loadable modules (display, audio, USB host and redirection, curses): a guest
	# without display, sound or USB loads none; TCG is built into the binary
	rm -f "$R"/usr/lib/x86_64-linux-gnu/qemu/*.so
	# documentation that is not in a package's files (dpkg's filter does not see it), the apt
	# and debconf caches, logs of the build
	rm -rf "$R"/usr/share/{doc-base,bug,bash-completion,zsh,fish} "$R"/var/cache/debconf/*-old \
		"$R"/var/lib/apt/lists/* "$R"/var/cache/apt/* "$R"/var/log/*.log "$R"/var/log/apt
	# device nodes: libvirt-hosts.sh bind-mounts the L1's /dev
	rm -rf "${R:?}"/dev/*

	for c in "libvirtd --version" "virsh --version" "qemu-system-x86_64 --version"; do
		# shellcheck disable=SC2086
		chroot "$R" /usr/bin/env PATH=/usr/sbin:/usr/bin $c >/dev/null ||
			die "after pruning, '$c' fails in the root"
	done
	# QEMU refuses to start when a firmware file it needs is missing: start one frozen (-S)
	# for a moment; a timeout (124) means it came up
	rc=0
	out=$(timeout 5 chroot "$R" /usr/bin/qemu-system-x86_64 -machine pc -accel tcg -nodefaults \
		-display none -monitor none -serial none -S 2>&1) || rc=$?
	[ $rc = 124 ] || die "after pruning, qemu-system-x86_64 -machine pc does not start: $out"
	log "root: $(du -sm "$R" | cut -f1) MiB after pruning; mmdebstrap took $((t1 - t0)) s"

	# paths under libvirt/, sorted so the archive does not depend on readdir order
	(cd "$W" && find libvirt | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$C.tmp"
	# one root in the cache: the ones of other package versions or of another version of
	# this script are not used again (and a rebuild takes about half a minute)
	rm -f "$CACHE"/libvirt-root-*.cpio.gz
	mv "$C.tmp" "$C"
	how=built
fi
# a copy, not a link: the caller may append to OUT or pad it (pad4)
cp "$C" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "libvirt root ($how, $C): $(du -m "$OUT" | cut -f1) MiB compressed"
