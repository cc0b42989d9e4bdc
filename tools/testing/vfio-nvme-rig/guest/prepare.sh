# SPDX-License-Identifier: GPL-2.0
# Guest-side setup every test shares; sourced by init.
# All three PFs (0: source drive, 1: destination drive, 2: a drive without
# live migration) get RIG_VFS VFs; VFs 1..RIG_ONLINE
# get 2 queue and 1 interrupt resources and go online, the rest stay offline with
# no resources (the negative tests use the last one).  make bench sets both
# (RIG_VFS=15 RIG_ONLINE=15) on drives that have room for them (run-vm.sh).
RIG_VFS=${RIG_VFS:-3}
RIG_ONLINE=${RIG_ONLINE:-2}

rig_prepare() {
	modprobe nvme || return 1
	for i in $(seq 100); do
		[ "$(ls /sys/class/nvme 2>/dev/null | wc -l)" -ge 3 ] && break
		sleep 0.1
	done
	modprobe vfio_iommu_type1 && modprobe vfio-pci && modprobe nvme-vfio-pci || return 1
	for pf in 0 1 2; do
		vfio-nvme-setup sriov $pf $RIG_VFS $RIG_ONLINE || return 1
	done
}
