#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel code standards for the driver, the PF helpers and the headers:
# checkpatch --strict on the files, sparse (C=2) and a W=1 build, all against
# 6.12; then the submission series (check-patches.sh: checkpatch, applies, builds).  Prints one
# "RESULT ok|not ok NAME" line per check (tap-summary.sh counts them) and the
# findings above it.
set -uo pipefail
. "$(dirname "$0")/common.sh"
cd "$TOP"

result() { check_result lint "$@"; }

CP="$B/linux/scripts/checkpatch.pl --strict --no-tree --quiet --show-types"
src=$(git ls-files -co --exclude-standard drivers include | grep -E '\.[ch]$' | grep -v '\.mod\.c$')
# CHECKs count too: checkpatch's exit code ignores them
out=$($CP -f $src 2>&1); rc=$?
grep -qE '^(ERROR|WARNING|CHECK):' <<<"$out" && rc=1
result "checkpatch --strict on drivers/ include/" $rc "$out"


# the submission series: checkpatch, applies, is what the rig tests, builds
"$RIG/check-patches.sh"

kbuild() { # extra make arguments...
	make -C "$KHDR" M="$TOP" CONFIG_NVME_VFIO_PCI=m \
		KBUILD_EXTRA_SYMBOLS="$B/nvme-host/Module.symvers" "$@" modules 2>&1
}
out=$(kbuild C=2 CHECK="sparse -Wno-unknown-attribute" | grep -E ': (warning|error):'); rc=$?
result "sparse (C=2)" $((!rc)) "$out"

# W=1 needs the objects rebuilt; build into a scratch copy so the tree stays as it was
rm -rf "$B/lint-w1" && mkdir -p "$B/lint-w1"
git ls-files Kbuild drivers include | cpio -pdm --quiet "$B/lint-w1"
out=$(make -C "$KHDR" M="$B/lint-w1" CONFIG_NVME_VFIO_PCI=m W=1 \
	KBUILD_EXTRA_SYMBOLS="$B/nvme-host/Module.symvers" modules 2>&1 | grep -E ': (warning|error):'); rc=$?
result "W=1 build" $((!rc)) "$out"
rm -rf "$B/lint-w1"
