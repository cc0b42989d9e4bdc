# SPDX-License-Identifier: GPL-2.0
# Shared settings for the rig scripts; sourced, not run.
# Every path can be overridden from the environment (the top-level Makefile passes them down).

RIG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$RIG/../../.." && pwd)
B=${B:-$TOP/build}
# downloads survive a fresh clone of the project (keyed by package version)
CACHE=${NVP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nvme-vfio-pci}

KABI=${KABI:-6.12.117+deb12}               # Debian kernel ABI name
KPKGVER=${KPKGVER:-6.12.117-1~deb12u1}     # the matching package version
KREL=$KABI-amd64                           # uname -r of the guest kernel
KROOT=$B/kroot                             # dpkg -x of image + headers + kbuild
KHDR=$KROOT/usr/src/linux-headers-$KREL
KSRC=$B/linux-source-6.12                  # unpacked linux-source-6.12
UAPI=$B/uapi/include                       # headers_install of $KSRC (bookworm's linux-libc-dev is 6.1)
QEMU_SRCPKG=${QEMU_SRCPKG:-qemu/bookworm-backports}   # QEMU 10.0 (build-qemu.sh)
QEMU_BUILD=$B/qemu
QEMU_BIN=${QEMU_BIN:-$QEMU_BUILD/qemu-system-x86_64}
J=${J:-$(nproc)}

log() { echo "[$(date +%T)] $*"; }
# the Debian mirror the host's apt uses (debian.sources), or deb.debian.org
debian_mirror() {
	local m
	m=$(sed -n 's#^URIs: *\(http[^ ]*/debian\)/*$#\1#p' /etc/apt/sources.list.d/debian.sources \
		2>/dev/null | head -1)
	echo "${m:-http://deb.debian.org/debian}"
}
# one "RESULT ok|not ok GROUP: NAME" line for tap-summary.sh, the findings above it
check_result() { # group name status output
	if [ "$3" = 0 ]; then
		echo "RESULT ok $1: $2"
	else
		printf '%s\n' "$4" | sed 's/^/  /' | head -60
		echo "RESULT not ok $1: $2"
	fi
}
die() { echo "error: $*" >&2; exit 1; }
# pad4 FILE: append zero bytes up to a multiple of 4 bytes, before another archive is appended
# to FILE (cat part2.cpio.gz >> FILE).  The kernel unpacks an initramfs made of concatenated
# archives one after the other (init/initramfs.c, unpack_to_rootfs()): it skips zero bytes between
# them, finds a compressed one by its magic at any offset, but takes an uncompressed newc archive
# only at a 4-byte aligned offset; so padding every part to 4 bytes is always safe.  (gzip -dc of
# the whole stops at the padding: list each part on its own.)
pad4() { head -c $(((4 - $(stat -c %s "$1") % 4) % 4)) /dev/zero >> "$1"; }
