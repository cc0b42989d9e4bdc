#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rebuild drivers/nvme/host of the patched tree ($B/linux, see prepare-tree.sh) out
# of tree against the Debian headers.  The result has the same modversions as the
# stock modules and replaces them in the guest.
set -euo pipefail
. "$(dirname "$0")/common.sh"

T=$B/nvme-host
# keep the previous objects when the sources did not change
if ! diff -rq -x '*.o' -x '*.ko' -x '*.cmd' -x '*.mod' -x '*.mod.c' -x modules.order \
	-x Module.symvers -x '.*' "$B/linux/drivers/nvme/host" "$T" >/dev/null 2>&1; then
	rm -rf "$T"
	mkdir -p "$(dirname "$T")"
	cp -r "$B/linux/drivers/nvme/host" "$T"
fi
# our include/ holds the headers the patches add (include/linux/nvme-lm.h ...)
make -s -C "$KHDR" M="$T" -j"$J" KCPPFLAGS="-I$TOP/include" modules
