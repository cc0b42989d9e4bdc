#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main job: live-migrate an NVMe VF from the source drive to the
# destination drive with I/O running, and print what happened.
# (init's setup printed both drives and their VFs just before.)
up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "DEMO [$(up)s] $*"; }

step "live migration of VF 1 of PF 0 (source) to VF 1 of PF 1 (destination) through nvme-vfio-pci"
vfio-nvme-migrate 20 > /tmp/migrate.out 2>&1
rc=$?
sed 's/^/DEMO   /' /tmp/migrate.out
dmesg | grep -E 'nvme_vfio_pci .*(live migration|migration|rejected|failed)' | sed 's/^/DEMO   dmesg: /'
step "done (rc=$rc)"
exit $rc
