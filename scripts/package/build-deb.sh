#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the nvme-vfio-pci-dkms Debian package with dpkg-buildpackage (`make deb` then runs
# lintian on it; make check's package test does too, as a test case).
# usage: build-deb.sh OUTDIR
#
# The package's DKMS source is this tree's driver, its headers and drivers/nvme/host of the
# patched kernel tree ($B/linux, tools/testing/vfio-nvme-rig/prepare-tree.sh: linux-source-6.12
# of the supported version with the series applied).  The version comes from git describe.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$TOP/build}
OUT=${1:?usage: build-deb.sh OUTDIR}
cd "$TOP"
[ -e "$B/linux/drivers/nvme/host/pci-lm.c" ] || { echo "build-deb.sh: $B/linux is not prepared (make deb prepares it)" >&2; exit 1; }

# v0.1.0 -> 0.1.0; v0.1.0-3-gabc1234 -> 0.1.0+git3.gabc1234; with changes not committed,
# +dirty; without a tag (a shallow clone), 0~git.HASH
d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) ||
	d=v0~git.$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo -dirty)
ver=$(sed -E 's/^v//; s/-dirty$/+dirty/; s/-([0-9]+)-(g[0-9a-f]+)/+git\1.\2/' <<< "$d")
# the changelog's date: the commit's, so the same tree builds the same package
date=$(git log -1 --format=%aD)

S=$OUT/nvme-vfio-pci-$ver
rm -rf "$OUT"
mkdir -p "$S/dkms-source/nvme-host" "$S/tools" "$S/Documentation/driver-api"
cp -R scripts/package/debian "$S/"
cat > "$S/debian/changelog" <<EOC
nvme-vfio-pci ($ver) unstable; urgency=medium

  * Built from $(git rev-parse --short HEAD) ($d).

 -- nvme-vfio-pci developers <dev@nvme-vfio-pci.invalid>  $date
EOC
# the driver as the tree has it (the files git knows: no build products)
git ls-files Kbuild Kconfig drivers/vfio include | cpio -pdm --quiet "$S/dkms-source"
cp scripts/package/dkms/Makefile "$S/dkms-source/"
# drivers/nvme/host of the supported kernel with the PF-side helpers
find "$B/linux/drivers/nvme/host" -maxdepth 1 -type f \( -name '*.[ch]' -o -name Makefile -o -name Kconfig \) \
	-exec cp {} "$S/dkms-source/nvme-host/" \;
cp tools/nvme-vfio/nvme-vfio-check tools/nvme-vfio/nvme-vfio-check.8 "$S/tools/"
# nvme-vfio-tools: the copy tool's source and the uAPI header it includes
cp tools/nvme-vfio/nvme-vfio-copy.c tools/nvme-vfio/nvme-vfio-copy.8 tools/nvme-vfio/Makefile "$S/tools/"
mkdir -p "$S/tools/uapi/linux"
cp include/uapi/linux/nvme_lm_log.h "$S/tools/uapi/linux/"
cp Documentation/driver-api/vfio-nvme.rst "$S/Documentation/driver-api/"

(cd "$S" && dpkg-buildpackage -b -us -uc) > "$OUT/build.log" 2>&1 ||
	{ tail -30 "$OUT/build.log"; echo "build-deb.sh: dpkg-buildpackage failed ($OUT/build.log)" >&2; exit 1; }
ls "$OUT"/nvme-vfio-pci-dkms_*_all.deb "$OUT"/nvme-vfio-tools_*.deb
