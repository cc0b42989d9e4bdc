#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch QEMU's Debian source package (7.2 from bookworm), add our TP4159 device files and
# hook patch from tools/testing/vfio-nvme-qemu/, and build x86_64-softmmu only.
#
# apt-get source needs deb-src entries; rather than editing the host's apt configuration we
# keep a private sources list and package lists under $CACHE/apt.
set -euo pipefail
. "$(dirname "$0")/common.sh"

DEV=$TOP/tools/testing/vfio-nvme-qemu
SRC=$B/qemu-src
APT=$CACHE/apt
APTOPT=(-o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts="$APT/parts"
	-o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)

fetch_source() {
	local dl=$CACHE/qemu-dsc
	if ! ls "$dl"/qemu_*.dsc >/dev/null 2>&1; then
		mkdir -p "$APT/parts" "$APT/lists/partial" "$APT/cache/archives/partial" "$dl"
		cat > "$APT/sources.list" <<-SRCLIST
		deb-src http://deb.debian.org/debian bookworm main
		deb-src http://deb.debian.org/debian-security bookworm-security main
		deb-src http://deb.debian.org/debian bookworm-updates main
		SRCLIST
		log "apt-get update (private deb-src lists)"
		apt-get "${APTOPT[@]}" update -q >/dev/null
		(cd "$dl" && apt-get "${APTOPT[@]}" source -q --download-only "$QEMU_SRCPKG")
	fi
	rm -rf "$SRC.tmp" && mkdir -p "$SRC.tmp"
	log "unpack $(basename "$dl"/qemu_*.dsc) (Debian patches applied)"
	dpkg-source --no-check -x "$dl"/qemu_*.dsc "$SRC.tmp/qemu" >/dev/null
	mv "$SRC.tmp/qemu" "$SRC.pristine"
	rm -rf "$SRC.tmp"
}

# our device code: new files copied in, plus one small hook patch against hw/nvme
stamp_inputs() { { find "$DEV" -type f -print0 2>/dev/null || true; } | sort -z | xargs -0r cat | sha256sum | cut -d' ' -f1; }

[ -d "$SRC.pristine" ] || fetch_source
want=$(stamp_inputs)
if [ "$(cat "$SRC/.ours" 2>/dev/null)" != "$want" ]; then
	rm -rf "$SRC"
	cp -a "$SRC.pristine" "$SRC"
	if [ -e "$DEV/hooks.patch" ]; then
		patch -d "$SRC" -p1 --quiet --no-backup-if-mismatch < "$DEV/hooks.patch"
		cp "$DEV"/*.c "$DEV"/*.h "$SRC/hw/nvme/" 2>/dev/null || true
	fi
	echo "$want" > "$SRC/.ours"
fi

if [ ! -e "$QEMU_BUILD/build.ninja" ]; then
	mkdir -p "$QEMU_BUILD"
	log "configure QEMU (x86_64-softmmu, minimal features)"
	(cd "$QEMU_BUILD" && "$SRC/configure" --target-list=x86_64-softmmu --disable-docs \
		--disable-werror --without-default-features --enable-tcg --enable-kvm \
		--disable-tools --disable-install-blobs >configure.log 2>&1) ||
		{ tail -30 "$QEMU_BUILD/configure.log"; die "QEMU configure failed"; }
fi
log "build QEMU (ninja decides what is stale)"
ninja -C "$QEMU_BUILD" -j"$J" qemu-system-x86_64 > "$QEMU_BUILD/ninja.log" 2>&1 ||
	{ tail -40 "$QEMU_BUILD/ninja.log"; die "QEMU build failed"; }
grep -q 'no work to do' "$QEMU_BUILD/ninja.log" || tail -1 "$QEMU_BUILD/ninja.log"
