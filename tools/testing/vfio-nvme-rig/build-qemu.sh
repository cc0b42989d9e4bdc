#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch QEMU's Debian source package ($QEMU_SRCPKG: 10.0 from bookworm-backports), add our
# TP4159 device files and hook patch from tools/testing/vfio-nvme-qemu/, and build
# x86_64-softmmu only.  The same QEMU version runs inside the guest (fetch-vmm.sh).
#
# apt-get source needs deb-src entries; rather than editing the host's apt configuration we
# keep a private sources list and package lists under $CACHE/apt.  QEMU 10.0's configure
# needs meson >= 1.5 and pycotap, which deps.sh installs from bookworm-backports.
set -euo pipefail
. "$(dirname "$0")/common.sh"

DEV=$TOP/tools/testing/vfio-nvme-qemu
SRC=$B/qemu-src
APT=$CACHE/apt
APTOPT=(-o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts="$APT/parts"
	-o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)

# one download directory per source package (qemu/bookworm-backports and qemu/bookworm can
# share the cache), one private apt state for all suites
DL=$CACHE/qemu-dsc-${QEMU_SRCPKG//\//-}
# what the pristine tree was unpacked from: the .dsc, or the orig tarball alone (below)
src_id() { basename "$(ls "$DL"/qemu_*.dsc "$DL"/qemu_*.orig.tar.* 2>/dev/null | head -1)"; }

fetch_source() {
	if ! ls "$DL"/qemu_*.orig.tar.* >/dev/null 2>&1; then
		mkdir -p "$APT/parts" "$APT/lists/partial" "$APT/cache/archives/partial" "$DL"
		cat > "$APT/sources.list" <<-SRCLIST
		deb-src http://deb.debian.org/debian bookworm main
		deb-src http://deb.debian.org/debian-security bookworm-security main
		deb-src http://deb.debian.org/debian bookworm-updates main
		deb-src http://deb.debian.org/debian bookworm-backports main
		SRCLIST
		log "apt-get update (private deb-src lists)"
		apt-get "${APTOPT[@]}" update -q >/dev/null
		# apt checks every file it fetches against the signed Sources index
		(cd "$DL" && apt-get "${APTOPT[@]}" source -q --download-only "$QEMU_SRCPKG") ||
			ls "$DL"/qemu_*.orig.tar.* >/dev/null 2>&1 ||
			die "cannot download the source package $QEMU_SRCPKG"
	fi
	rm -rf "$SRC.tmp" "$SRC.pristine" "$SRC" "$QEMU_BUILD" && mkdir -p "$SRC.tmp/qemu"
	if ls "$DL"/qemu_*.dsc >/dev/null 2>&1; then
		log "unpack $(src_id) (Debian patches applied)"
		dpkg-source --no-check -x "$DL"/qemu_*.dsc "$SRC.tmp/qemu.dsc" >/dev/null
		rmdir "$SRC.tmp/qemu" && mv "$SRC.tmp/qemu.dsc" "$SRC.tmp/qemu"
	else
		# The archive's pool may lack a backport's .dsc and .debian.tar.xz while it
		# still has the orig tarball (qemu 10.0 from bookworm-backports, November
		# 2026): build Debian's repacked upstream sources, without Debian's patches.
		log "unpack $(src_id) (no .dsc on the mirror: without Debian patches)"
		tar -xf "$DL"/qemu_*.orig.tar.* -C "$SRC.tmp/qemu" --strip-components=1
	fi
	src_id > "$SRC.tmp/qemu/.srcid"
	mv "$SRC.tmp/qemu" "$SRC.pristine"
	rm -rf "$SRC.tmp"
}

# our device code: new files copied in, plus one small hook patch against hw/nvme
stamp_inputs() { { find "$DEV" -type f -print0 2>/dev/null || true; } | sort -z | xargs -0r cat | sha256sum | cut -d' ' -f1; }

# a different QEMU_SRCPKG (or a new upload of it) means a new pristine tree and a new
# build tree: $SRC.pristine/.srcid names what it was unpacked from
if [ "$(cat "$SRC.pristine/.srcid" 2>/dev/null)" != "$(src_id)" ] || [ -z "$(src_id)" ]; then
	fetch_source
fi
want=$(stamp_inputs)
if [ "$(cat "$SRC/.ours" 2>/dev/null)" != "$want" ]; then
	rm -rf "$SRC"
	cp -a "$SRC.pristine" "$SRC"
	if [ -e "$DEV/hooks.patch" ]; then
		patch -d "$SRC" -p1 --quiet --no-backup-if-mismatch < "$DEV/hooks.patch"
		cp "$DEV"/*.c "$DEV"/*.h "$SRC/hw/nvme/" 2>/dev/null || true
	fi
	# Debian's repacked orig tarball drops the prebuilt EDK2 images (pc-bios/edk2-*.fd.bz2)
	# that QEMU's meson.build unpacks for x86_64-softmmu whenever bzip2 is installed; the
	# rig boots SeaBIOS and installs no blobs: do not unpack them.
	if ! ls "$SRC"/pc-bios/edk2-*.fd.bz2 >/dev/null 2>&1 &&
	   grep -q '^    unpack_edk2_blobs = bzip2.found()$' "$SRC/meson.build"; then
		sed -i 's/^    unpack_edk2_blobs = bzip2.found()$/    unpack_edk2_blobs = false/' "$SRC/meson.build"
	fi
	echo "$want" > "$SRC/.ours"
fi

# configure makes a Python venv that must see Debian's meson and pycotap (deps.sh): run it
# with Debian's python3, not whichever python3 comes first in PATH
QEMU_PYTHON=${QEMU_PYTHON-/usr/bin/python3}
if [ ! -e "$QEMU_BUILD/build.ninja" ]; then
	rm -rf "$QEMU_BUILD" && mkdir -p "$QEMU_BUILD"
	log "configure QEMU (x86_64-softmmu, minimal features)"
	(cd "$QEMU_BUILD" && "$SRC/configure" --target-list=x86_64-softmmu --disable-docs \
		${QEMU_PYTHON:+--python="$QEMU_PYTHON"} \
		--disable-werror --without-default-features --enable-tcg --enable-kvm \
		--disable-tools --disable-install-blobs >configure.log 2>&1) ||
		{ tail -30 "$QEMU_BUILD/configure.log"; die "QEMU configure failed"; }
fi
log "build QEMU (ninja decides what is stale)"
ninja -C "$QEMU_BUILD" -j"$J" qemu-system-x86_64 > "$QEMU_BUILD/ninja.log" 2>&1 ||
	{ tail -40 "$QEMU_BUILD/ninja.log"; die "QEMU build failed"; }
grep -q 'no work to do' "$QEMU_BUILD/ninja.log" || tail -1 "$QEMU_BUILD/ninja.log"
