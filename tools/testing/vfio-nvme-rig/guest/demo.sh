#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main job as far as the rig supports it today: show both drives and their
# VFs, then run I/O on a VF of the source drive and check the data.
# Live migration of the VF joins here once the emulated device speaks TP4159.
up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "DEMO [$(up)s] $*"; }

VF=$(vfio-nvme-setup list 0 | sed -n 's/^  VF 1 \([^ ]*\) .*/\1/p')
step "bind source VF $VF to nvme"
vfio-nvme-setup bind "$VF" nvme || exit 1
# multipath is off (nvme_core.multipath=0): the VF's namespace has a node of its own
for i in $(seq 100); do ls -d /sys/bus/pci/devices/$VF/nvme/nvme*/nvme*n1 >/dev/null 2>&1 && break; sleep 0.05; done
NS=/dev/$(basename "$(ls -d /sys/bus/pci/devices/$VF/nvme/nvme*/nvme*n1 | head -1)")
[ -b "$NS" ] || { step "no block device for the VF's namespace"; exit 1; }
step "namespace $NS on the VF: $(cat /sys/block/$(basename $NS)/size) sectors"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
step "write 8 MiB through the VF"
dd if=/tmp/pattern of="$NS" bs=1M oflag=direct 2>/dev/null || exit 1
step "read it back"
dd if="$NS" of=/tmp/readback bs=1M count=8 iflag=direct 2>/dev/null || exit 1
a=$(md5sum < /tmp/pattern | cut -d' ' -f1)
b=$(md5sum < /tmp/readback | cut -d' ' -f1)
[ "$a" = "$b" ] && step "data check: OK ($a)" || { step "data check: MISMATCH"; exit 1; }
step "live migration of the VF: not available yet (the emulated drive has no TP4159 support)"
