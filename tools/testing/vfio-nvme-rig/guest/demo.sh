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
step "2. local storage: the operator's nvme-vfio-copy copies the namespace beside the VMM"
# PF 0's controller, and namespace 1's block device on PF 1 (the destination drive)
ctrl() { vfio-nvme-setup list "$1" | awk '$1 == "PF" { print $3 }'; }
ns_bdev() { # CTRL NSID
	for n in /sys/class/nvme/"$1"/"$1"n*; do
		[ "$(cat "$n/nsid" 2>/dev/null)" = "$2" ] && echo "/dev/${n##*/}" && return
	done
}
src=$(ctrl 0) dst=$(ctrl 1)
dst_ns=$(ns_bdev "${dst#/dev/}" 1)
step "   nvme-vfio-copy $src 0 1 $dst_ns (VF 1 is the PF's virtfn0), then the VMM migrates"
nvme-vfio-copy --quiet "$src" 0 1 "$dst_ns" > /tmp/copy.out 2>&1 &
copy=$!
# the migration starts once the bulk copy is done (or the tool gave up)
while kill -0 $copy 2>/dev/null && ! grep -q 'bulk copy done' /tmp/copy.out; do
	sleep 0.2
done
run --local 20
# a VMM that failed before the switch-over leaves the tool copying: interrupt it
[ $r = 0 ] || kill -INT $copy 2>/dev/null
wait $copy
r=$?
sed 's/^/DEMO   /' /tmp/copy.out
[ $r = 0 ] || rc=$r
dmesg | grep -E 'nvme(_vfio_pci)? .*(live migration|migration|rejected|failed|LBA)' | sed 's/^/DEMO   dmesg: /'
step "done (rc=$rc)"
exit $rc
