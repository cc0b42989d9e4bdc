#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's 6.12 guest kernel image + headers and linux-source-6.12 of the same version,
# unpack them under $B with dpkg -x (the host's /boot and /usr/src are never touched), and
# make the unpacked headers usable from where they are.
set -euo pipefail
. "$(dirname "$0")/common.sh"

DEBS=$CACHE/debs
mkdir -p "$DEBS" "$B"
cd "$DEBS"
want=(linux-image-$KREL-unsigned linux-headers-$KREL linux-headers-$KABI-common
      linux-kbuild-$KABI linux-source-6.12)
for p in "${want[@]}"; do
	ls "${p}"_*.deb >/dev/null 2>&1 && continue
	log "download $p=$KPKGVER"
	apt-get download -q -o APT::Sandbox::User=root "$p=$KPKGVER"
done

if [ ! -e "$KROOT/.done" ]; then
	rm -rf "$KROOT"
	for p in "${want[@]:0:4}"; do dpkg -x "$DEBS/${p}"_*.deb "$KROOT"; done
	# the -amd64 headers include the -common Makefile by its absolute /usr/src path
	sed -i "s#^include /usr/src/#include $KROOT/usr/src/#" "$KHDR/Makefile"
	depmod -b "$KROOT" "$KREL"
	touch "$KROOT/.done"
	log "guest kernel $KREL unpacked in $KROOT"
fi

if [ ! -e "$KSRC/.done" ]; then
	rm -rf "$KSRC" "$B/linux-source-deb"
	dpkg -x "$DEBS"/linux-source-6.12_*.deb "$B/linux-source-deb"
	log "unpack linux-source-6.12"
	tar -C "$B" -xaf "$B"/linux-source-deb/usr/src/linux-source-6.12.tar.*
	rm -rf "$B/linux-source-deb"
	touch "$KSRC/.done"
fi

if [ ! -e "$UAPI/linux/vfio.h" ]; then
	make -s -C "$KSRC" O="$B/uapi-build" ARCH=x86 headers_install INSTALL_HDR_PATH="$B/uapi"
	rm -rf "$B/uapi-build"
fi
