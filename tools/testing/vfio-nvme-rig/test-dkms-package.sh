#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Test the nvme-vfio-pci-dkms package the way an operator installs it: in a Debian 12 root
# (mmdebstrap) with Debian's 6.12.117 kernel and its headers, `apt install ./the.deb` lets DKMS
# build the modules; then what the package installed is checked, kept for the rig's "package"
# guest (the Debian kernel booted with these modules, see the Makefile's check), and
# `apt remove` must bring the stock nvme modules back.  TOOLS_DEB, nvme-vfio-tools (the copy
# tool), is checked with lintian, installed, and must run.
# usage: test-dkms-package.sh DEB OUTDIR [TOOLS_DEB]
#
# Prints one "RESULT ok|not ok package: ..." line per case (tap-summary.sh).  OUTDIR gets the
# root's /boot/vmlinuz, its /lib/modules/$KREL with the package's modules, and the package's
# nvme-vfio-check, as they were after the install.  The root's downloads are cached in $CACHE by
# package version (the kernel packages are fetch-kernel.sh's).
set -euo pipefail
. "$(dirname "$0")/common.sh"

DEB=$(readlink -f "${1:?usage: test-dkms-package.sh DEB OUTDIR}")
OUT=${2:?usage: test-dkms-package.sh DEB OUTDIR [TOOLS_DEB]}
TOOLS_DEB=${3:+$(readlink -f "$3")}
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (tools/testing/vfio-nvme-rig/deps.sh)"
[ "$(id -u)" = 0 ] || die "test-dkms-package.sh runs mmdebstrap and chroot as root"
PKG=nvme-vfio-pci-dkms
VER=$(dpkg-deb -f "$DEB" Version)

mirror=${PKG_MIRROR:-$(debian_mirror)}
# Debian's 6.12 kernel packages for bookworm are in bookworm-security (and its point releases)
SOURCES=("deb $mirror bookworm main" "deb $mirror bookworm-updates main"
	 "deb ${mirror%/debian}/debian-security bookworm-security main")
KDEBS=("linux-image-$KREL-unsigned" "linux-headers-$KREL" "linux-headers-$KABI-common" "linux-kbuild-$KABI")
ARCH=$CACHE/pkgroot-debs
mkdir -p "$ARCH"

W=$(mktemp -d "$B/pkgroot.XXXXXX")
R=$W/root
cleanup() {
	for m in sys proc dev/pts dev; do mountpoint -q "$R/$m" && umount -l "$R/$m"; done
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

result() { # name status output
	check_result package "$1" "$2" "$3"
}

# the root: the "apt" variant (essential, apt), the 6.12.117 image and headers as an operator
# has them, dkms and nvme-cli (the package's dependencies, so its install needs no download;
# the package lists stay for it); the kernel packages come from fetch-kernel.sh's cache, the rest from the mirror
# through a cache of our own
t0=$(date +%s)
kincl=()
for p in "${KDEBS[@]}"; do kincl+=("$CACHE/debs/${p}_${KPKGVER}_"*.deb); done
rc=0
mmdebstrap --variant=apt --mode=root -q \
	--aptopt='APT::Install-Recommends "false"' \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	--skip=download/empty --skip=cleanup/apt/lists \
	--setup-hook='mkdir -p "$1"/var/cache/apt/archives && cp '"$ARCH"'/*.deb "$1"/var/cache/apt/archives/ 2>/dev/null || true' \
	--setup-hook='mkdir -p "$1'"$CACHE/debs"'" && cp '"${kincl[*]}"' "$1'"$CACHE/debs"'/"' \
	--include="dkms,initramfs-tools,nvme-cli,$(IFS=,; echo "${kincl[*]}")" \
	--customize-hook='sync-out /var/cache/apt/archives '"$ARCH" \
	bookworm "$R" "${SOURCES[@]}" > "$W/mmdebstrap.log" 2>&1 || rc=$?
# one copy of each package version in the cache
(cd "$ARCH" && ls -t ./*.deb 2>/dev/null | awk -F_ 'seen[$1]++' | xargs -r rm -f)
result "a Debian 12 root with kernel $KREL and its headers (mmdebstrap, $(($(date +%s) - t0)) s)" $rc \
	"$(tail -30 "$W/mmdebstrap.log")"
[ $rc = 0 ] || exit 1
mount --bind /dev "$R/dev" && mount --bind /dev/pts "$R/dev/pts"
mount -t proc proc "$R/proc" && mount -t sysfs sys "$R/sys"

# lintian on the package (make deb runs it too; make check builds the package without it)
rc=0
out=$(lintian --fail-on error,warning "$DEB" 2>&1) || rc=$?
out=$(grep -v 'running with root privileges' <<< "$out" || true)
result "lintian reports no error or warning for $(basename "$DEB")" $rc "$out"

# install: DKMS builds for every kernel of the root that has headers
cp "$DEB" "$R/tmp/"
t0=$(date +%s)
rc=0
out=$(in_root apt-get install -y -q "/tmp/$(basename "$DEB")" 2>&1) || rc=$?
status=$(in_root dkms status nvme-vfio-pci 2>&1)
grep -q "^nvme-vfio-pci/$VER, $KREL, x86_64: installed" <<< "$status" || rc=1
result "apt install ./$(basename "$DEB") builds and installs the modules for $KREL with DKMS ($(($(date +%s) - t0)) s)" \
	$rc "$out
dkms status: $status"

# the rebuilt modules win: modprobe's view (modinfo -n) is updates/dkms for each, and the
# nvme there exports the live migration helpers
rc=0 out=
for m in nvme nvme-core nvme-fabrics nvme-tcp nvme-vfio-pci; do
	f=$(in_root modinfo -k "$KREL" -n "$m" 2>&1) || true
	out+="$m: $f"$'\n'
	[[ $f == /lib/modules/$KREL/updates/dkms/* ]] || rc=1
done
grep -q '^alias symbol:nvme_lm_vf_get nvme$' "$R/lib/modules/$KREL/modules.symbols" || { rc=1; out+="modules.symbols: no nvme_lm_vf_get"$'\n'; }
result "modprobe takes nvme, nvme-core, nvme-fabrics, nvme-tcp and nvme-vfio-pci from updates/dkms; nvme exports nvme_lm_vf_get" \
	$rc "$out"

# the initramfs carries the rebuilt nvme (a host whose root is on NVMe loads nvme from there)
rc=0
out=$(in_root lsinitramfs "/boot/initrd.img-$KREL" 2>&1 | grep '/nvme\.ko') || true
if ! grep -q "updates/dkms/nvme.ko" <<< "$out" || grep -q "kernel/drivers/nvme/host/nvme.ko" <<< "$out"; then
	rc=1
fi
result "the initramfs of $KREL has the package's nvme, not the stock one" $rc "$out"

# refusals: a kernel of another version, and one without headers
rc=0
out=$(in_root dkms build -m nvme-vfio-pci -v "$VER" -k 6.1.0-28-amd64 2>&1) && rc=1
grep -q "BUILD_EXCLUSIVE directive which does not match this kernel" <<< "$out" || rc=1
result "DKMS refuses to build for kernel 6.1.0-28-amd64, which the package does not support" $rc "$out"
rc=0
out=$(in_root dkms build -m nvme-vfio-pci -v "$VER" -k "${KREL%-amd64}-rt-amd64" 2>&1) && rc=1
grep -qi "headers .*cannot be found\|headers for kernel .* not" <<< "$out" || rc=1
result "DKMS refuses to build for ${KREL%-amd64}-rt-amd64, whose headers are not installed" $rc "$out"

# the copy tool's package: lintian, installs with its dependencies (libnvme), runs
if [ -n "$TOOLS_DEB" ]; then
	rc=0
	out=$(lintian --fail-on error,warning "$TOOLS_DEB" 2>&1) || rc=$?
	out=$(grep -v 'running with root privileges' <<< "$out" || true)
	result "lintian reports no error or warning for $(basename "$TOOLS_DEB")" $rc "$out"
	cp "$TOOLS_DEB" "$R/tmp/"
	rc=0
	out=$(in_root apt-get install -y -q "/tmp/$(basename "$TOOLS_DEB")" 2>&1) || rc=$?
	out+=$'\n'$(in_root nvme-vfio-copy --help 2>&1) || rc=1
	# the root leaves out /usr/share/man (path-exclude above): the man page is looked for in the .deb
	dpkg-deb -c "$TOOLS_DEB" | grep -q '/usr/share/man/man8/nvme-vfio-copy\.8\.gz$' ||
		{ rc=1; out+=$'\n'"no man page in the package"; }
	result "apt install ./$(basename "$TOOLS_DEB"): nvme-vfio-copy runs; the package has its man page" $rc "$out"
fi

# keep what the package installed for the guest
rm -rf "$OUT"
mkdir -p "$OUT/boot" "$OUT/lib/modules" "$OUT/usr/sbin"
cp "$R/boot/vmlinuz-$KREL" "$OUT/boot/"
cp -a "$R/lib/modules/$KREL" "$OUT/lib/modules/"
cp "$R/usr/sbin/nvme-vfio-check" "$OUT/usr/sbin/"

# remove: the stock modules are modprobe's again, in the initramfs too
t0=$(date +%s)
rc=0
out=$(in_root apt-get remove -y -q "$PKG" 2>&1) || rc=$?
for m in nvme nvme-core nvme-tcp; do
	f=$(in_root modinfo -k "$KREL" -n "$m" 2>&1) || true
	out+=$'\n'"$m: $f"
	[[ $f == /lib/modules/$KREL/kernel/drivers/nvme/host/$m.ko* ]] || rc=1
done
if f=$(in_root modinfo -k "$KREL" -n nvme-vfio-pci 2>&1); then rc=1; out+=$'\n'"nvme-vfio-pci is still there: $f"; fi
[ -z "$(ls -A "$R/lib/modules/$KREL/updates/dkms" 2>/dev/null)" ] || { rc=1; out+=$'\n'"updates/dkms: $(ls "$R/lib/modules/$KREL/updates/dkms")"; }
! grep -q 'nvme_lm_vf_get' "$R/lib/modules/$KREL/modules.symbols" || { rc=1; out+=$'\n'"modules.symbols still has nvme_lm_vf_get"; }
[ -z "$(in_root dkms status nvme-vfio-pci 2>&1)" ] || { rc=1; out+=$'\n'"dkms status: $(in_root dkms status nvme-vfio-pci 2>&1)"; }
ird=$(in_root lsinitramfs "/boot/initrd.img-$KREL" 2>&1 | grep '/nvme\.ko') || true
if ! grep -q "kernel/drivers/nvme/host/nvme.ko" <<< "$ird" || grep -q updates/dkms <<< "$ird"; then
	rc=1; out+=$'\n'"initramfs: $ird"
fi
result "apt remove $PKG brings back the stock nvme modules, in the initramfs too ($(($(date +%s) - t0)) s)" $rc "$out"
