#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make $B/linux: linux-source-6.12 (hard-linked, so this is cheap) with our patch
# series applied and this project's kernel files dropped in where they belong in
# a kernel tree.  The drivers/nvme/host rebuild, the selftests (with the
# operator's tools/nvme-vfio) and the debug kernel all build from it; the
# unpacked linux-source stays pristine.
set -euo pipefail
. "$(dirname "$0")/common.sh"

T=$B/linux
rm -rf "$T.new"
mkdir "$T.new" && cp -al "$KSRC/." "$T.new"
rm -f "$T.new/.done"
while read -r p; do
	case $p in ''|'#'*) continue ;; esac
	log "apply $p"
	# patch replaces files (new inode), so the hard links to $KSRC stay intact
	patch -d "$T.new" -p1 --quiet --no-backup-if-mismatch < "$TOP/patches/linux/$p"
done < "$TOP/patches/linux/series"
cd "$TOP"
{
git ls-files -co --exclude-standard drivers include tools/testing/selftests tools/nvme-vfio \
	Documentation 2>/dev/null ||
	find drivers include tools/testing/selftests tools/nvme-vfio Documentation -type f 2>/dev/null
} | while read -r f; do
	case $f in *.o|*.ko|*.mod|*.mod.c|*.cmd) continue ;; esac
	mkdir -p "$T.new/$(dirname "$f")"
	cp --remove-destination "$f" "$T.new/$f"
done
rm -rf "$T" && mv "$T.new" "$T"
