#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main job: live-migrate an NVMe VF from the source drive to the
# destination drive with I/O running, and print what happened.
# (init's setup printed both drives and their VFs just before.)
up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "DEMO [$(up)s] $*"; }

rc=0
run() {
	vfio-nvme-migrate "$@" > /tmp/migrate.out 2>&1
	r=$?
	sed 's/^/DEMO   /' /tmp/migrate.out
	[ $r = 0 ] || rc=$r
}

step "live migration of VF 1 of PF 0 (source) to VF 1 of PF 1 (destination) through nvme-vfio-pci"
step "1. shared storage: the guest's namespace is on both drives"
run 20
step "2. local storage: the namespace is copied alongside, driven by the LBA change log"
run --local 20
dmesg | grep -E 'nvme_vfio_pci .*(live migration|migration|rejected|failed|LBA)' | sed 's/^/DEMO   dmesg: /'
step "done (rc=$rc)"
exit $rc
