#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The submission series (format-patches.sh) against linux-source-6.12 as
# Debian ships it: every patch applies in order, the result is the tree the
# rig builds and tests ($B/linux, prepare-tree.sh), and drivers/nvme/host and
# drivers/vfio/pci/nvme build from it against the Debian headers, with sparse
# (C=2) and W=1 over the files the series adds there.
# Prints one "RESULT ok|not ok NAME" line per check, like lint.sh.
set -uo pipefail
. "$(dirname "$0")/common.sh"

S=$B/patches
T=$B/series-check
result() { check_result patches "$@"; }

out=$("$RIG/format-patches.sh" "$S" 2>&1); rc=$?
result "make patches writes the series" $rc "$out"
[ $rc = 0 ] || exit 0

# outside the work tree: inside a git checkout checkpatch reads a patch's blank
# context lines as added lines with trailing white space.  FILE_PATH_CHANGES
# ("does MAINTAINERS need updating?") is asked of every patch that adds a
# file; get_maintainer.pl answers it below, on the applied tree.
rc=0; out=""
while read -r p; do
	o=$(cd / && "$KSRC/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
		--ignore FILE_PATH_CHANGES "$S/$p" 2>&1) &&
		! grep -qE '^(ERROR|WARNING|CHECK):' <<<"$o" || { rc=1; out+="$p:"$'\n'"$o"$'\n'; }
done < "$S/series"
result "checkpatch --strict on the series" $rc "$out"

rm -rf "$T" && mkdir "$T" && cp -al "$KSRC/." "$T" && rm -f "$T/.done"
rc=0; out=""
while read -r p; do
	# patch writes new files, so the hard links to $KSRC stay intact
	o=$(patch -d "$T" -p1 --forward --no-backup-if-mismatch < "$S/$p" 2>&1) ||
		{ rc=1; out+="$p does not apply:"$'\n'"$o"$'\n'; break; }
done < "$S/series"
if [ $rc = 0 ]; then
	# the rig tests exactly what the series submits
	for f in $(sed -n 's#^+++ b/##p' "$S"/0*.patch | sort -u); do
		cmp -s "$T/$f" "$B/linux/$f" || { rc=1; out+="$f: the series and the rig's tree differ"$'\n'; }
	done
fi
result "the series applies to linux-source-6.12 and matches the tested tree" $rc "$out"
[ $rc = 0 ] || { rm -rf "$T"; exit 0; }

rc=0; out=""
for f in $(grep -h -B3 '^new file mode' "$S"/0*.patch | sed -n 's#^diff --git a/\([^ ]*\) .*#\1#p'); do
	(cd "$T" && scripts/get_maintainer.pl --no-git --no-git-fallback -f "$f" 2>/dev/null) | grep -qE '\((maintainer|supporter):' ||
		{ rc=1; out+="$f: no MAINTAINERS entry covers it"$'\n'; }
done
result "MAINTAINERS covers every new file" $rc "$out"
[ $rc = 0 ] || { rm -rf "$T"; exit 0; }

# build it: nvme-pci with the PF helpers, then the variant driver against its symbols
kbuild() { # dir, extra make arguments...
	local d=$1; shift
	make -C "$KHDR" M="$d" -j"$J" KCPPFLAGS="-I$T/include" "$@" modules 2>&1
}
ours='(pci-lm\.c|nvme-lm\.h|nvme-tp4159\.h|nvme-vfio\.h|vfio/pci/nvme/)'
out=$(kbuild "$T/drivers/nvme/host" C=2 CHECK="sparse -Wno-unknown-attribute" W=1); rc=$?
[ $rc = 0 ] && { out+=$(kbuild "$T/drivers/vfio/pci/nvme" CONFIG_NVME_VFIO_PCI=m \
	KBUILD_EXTRA_SYMBOLS="$T/drivers/nvme/host/Module.symvers"); rc=$?; }
[ $rc = 0 ] && [ -e "$T/drivers/nvme/host/nvme.ko" ] && [ -e "$T/drivers/vfio/pci/nvme/nvme-vfio-pci.ko" ] || rc=1
result "nvme.ko and nvme-vfio-pci.ko build from the series" $rc "$(tail -30 <<<"$out")"
w=$(grep -E ': (warning|error):' <<<"$out" | grep -E "$ours"); wrc=$?
result "sparse (C=2) and W=1 on the PF helpers" $((!wrc)) "$w"
rm -rf "$T"
