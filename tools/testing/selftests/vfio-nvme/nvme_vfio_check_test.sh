#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# nvme-vfio-check (tools/nvme-vfio, shipped by the nvme-vfio-pci-dkms package) on the rig's
# drives, and where the loaded nvme modules come from.  The rig's PF 0 (serial VFNVME0000)
# supports TP4159, PF 2 (VFNVME0002) does not; prepare.sh gave each PF VFs.
DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

pf_ctrl() { # serial -> nvmeN
	for c in /sys/class/nvme/nvme*; do
		[ "$(tr -d ' ' < "$c/serial")" = "$1" ] && basename "$c" && return
	done
}
# run ARGS: nvme-vfio-check's output in $out, its exit status in $rc
run() { out=$(nvme-vfio-check "$@" 2>&1); rc=$?; printf '%s\n' "$out" | sed 's/^/# /'; }

ktap_print_header
ktap_set_plan 6
krel=$(uname -r)
lm=$(pf_ctrl VFNVME0000) plain=$(pf_ctrl VFNVME0002)
lm_pf=$(basename "$(readlink -f "/sys/class/nvme/$lm/device")")

run "$lm"
[ $rc = 0 ] && echo "$out" | grep -q "^$lm_pf ($lm): supports host managed live migration" &&
	echo "$out" | tail -1 | grep -q "^$lm_pf: yes$"
ktap_test_result "nvme_vfio_check.pf_with_tp4159_can_migrate" [ $? = 0 ]

run "$plain"
[ $rc = 1 ] && echo "$out" | grep -q "does not support host managed live migration (TP4159: Identify Controller OACS bit 11 is clear"
ktap_test_result "nvme_vfio_check.pf_without_tp4159_cannot" [ $? = 0 ]

vf=$(basename "$(readlink -f "/sys/bus/pci/devices/$lm_pf/virtfn0")")
run "$vf"
[ $rc = 1 ] && echo "$out" | grep -q "^$vf: no: $vf is a VF; name its PF, $lm_pf$"
ktap_test_result "nvme_vfio_check.vf_is_not_a_pf" [ $? = 0 ]

run -a
[ $rc = 1 ] && [ "$(echo "$out" | grep -c '^0000:[0-9a-f:.]*: \(yes\|no: \)')" = 3 ]
ktap_test_result "nvme_vfio_check.all_pfs_one_verdict_each" [ $? = 0 ]

# the loaded modules are the files modprobe resolves (for a package: what DKMS installed)
if [ ! -e /sys/module/nvme/srcversion ]; then
	ktap_test_skip "loaded_nvme_modules_are_the_installed_files (built into $krel)"
	ktap_test_skip "loaded_nvme_modules_come_from_the_dkms_package (built into $krel)"
	ktap_finished
fi
# nvme and nvme-core have a MODULE_VERSION, so a srcversion (a hash of their source) to compare;
# nvme-vfio-pci has none: that it is loaded is checked, where from is the next case
ok=0
for m in nvme nvme_core; do
	f=$(modinfo -n "$m") s=$(modinfo -F srcversion "$m")
	echo "# $m: loaded $(cat /sys/module/$m/srcversion), $f $s"
	[ -n "$s" ] && [ "$s" = "$(cat /sys/module/$m/srcversion)" ] || ok=1
done
[ -d /sys/module/nvme_vfio_pci ] || { echo "# nvme_vfio_pci is not loaded"; ok=1; }
ktap_test_result "loaded_nvme_modules_are_the_installed_files" [ $ok = 0 ]
if [ -d "/lib/modules/$krel/updates/dkms" ]; then
	ok=0
	for m in nvme nvme_core nvme_vfio_pci; do
		case $(modinfo -n "$m") in "/lib/modules/$krel/updates/dkms/"*) ;; *) ok=1 ;; esac
	done
	ktap_test_result "loaded_nvme_modules_come_from_the_dkms_package" [ $ok = 0 ]
else
	ktap_test_skip "loaded_nvme_modules_come_from_the_dkms_package (the rig's own modules, no package installed)"
fi
ktap_finished
