#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rebuild drivers/nvme/host from linux-source-6.12 with our PF-side patches applied,
# out of tree against the Debian headers.  The result has the same modversions as
# the stock modules and replaces them in the guest.
set -euo pipefail
. "$(dirname "$0")/common.sh"

T=$B/nvme-host
rm -rf "$T.new"
mkdir -p "$T.new/drivers/nvme"
cp -a "$KSRC/drivers/nvme/host" "$T.new/drivers/nvme/host"
while read -r p; do
	case $p in ''|'#'*) continue ;; esac
	log "apply $p"
	patch -d "$T.new" -p1 --quiet --no-backup-if-mismatch < "$TOP/patches/linux/$p"
done < "$TOP/patches/linux/series"
# keep the previous build's objects when the sources did not change
if [ -d "$T" ] && diff -rq -x '*.o' -x '*.ko' -x '*.cmd' -x '*.mod*' -x 'modules.order' \
	-x 'Module.symvers' -x '.*' "$T.new/drivers/nvme/host" "$T/drivers/nvme/host" >/dev/null; then
	rm -rf "$T.new"
else
	rm -rf "$T" && mv "$T.new" "$T"
fi
make -s -C "$KHDR" M="$T/drivers/nvme/host" -j"$J" modules
