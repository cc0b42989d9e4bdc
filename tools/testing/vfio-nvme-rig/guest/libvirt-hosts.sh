#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Two libvirt "hosts", A and B, on one machine, for a migration between them: each is a libvirtd
# in its own mount and UTS namespace, chrooted into the Debian root that build-libvirt-root.sh
# makes (/libvirt in the L1 guest), with its own host UUID, state and socket.
#   libvirt-hosts.sh start ROOT   bind the machine's /dev, /proc, /sys, /lib/modules into ROOT,
#                                 start both daemons, wait until both answer
#   libvirt-hosts.sh stop ROOT    destroy their domains, stop both daemons, unmount
#   libvirt-hosts.sh uri A|B      the connection URI, for virsh run in ROOT:
#                                 chroot ROOT virsh -c "$(libvirt-hosts.sh uri A)" list
# Runs as root, with busybox or Debian tools outside ROOT; inside ROOT Debian's.
# Everything both hosts must see (their sockets and state, for the test a migration socket and
# the guest's files) is under /tmp/lv in ROOT, a tmpfs mounted by start.
set -eu

LV=/tmp/lv
# libvirt refuses a migration whose two ends report one host UUID ("same host"); it compares
# nothing else.  These are fixed so that logs of two runs compare.
UUID_A=6c5e0a3e-1b1f-4b4e-9d6a-00000000000a
UUID_B=6c5e0a3e-1b1f-4b4e-9d6a-00000000000b
TIMEOUT=${LIBVIRT_HOSTS_TIMEOUT:-300}	# seconds for a libvirtd to answer (it probes QEMU first)

usage() { echo "usage: $0 start ROOT | stop ROOT | uri A|B" >&2; exit 2; }
uri() { echo "qemu+unix:///system?socket=$LV/$1/libvirt-sock"; }
# a command in ROOT $R, with Debian's PATH (the caller's may name busybox's directories)
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin HOME=/root LC_ALL=C "$@"; }
# is $1 a mount point (busybox's mountpoint takes a bind mount of the same file system for none)
is_mount() { [ -d "$1" ] && grep -q " $(cd "$1" && pwd -P) " /proc/mounts; }
# the pid of host $2's libvirtd in ROOT $1, if it runs
daemon_pid() {
	p=$(cat "$1$LV/$2/libvirtd.pid" 2>/dev/null) || return 1
	kill -0 "$p" 2>/dev/null && echo "$p"
}

# host_conf ROOT H: /etc/libvirt of host H, the package's files with our two configs
host_conf() {
	e=$1$LV/$2/etc
	mkdir -p "$e"
	cp -a "$1/etc/libvirt/." "$e/"
	uuid=$UUID_A; [ "$2" = B ] && uuid=$UUID_B
	cat > "$e/libvirtd.conf" <<-EOF
	# the socket (libvirt-sock) in a directory of this host's own, seen by both
	unix_sock_dir = "$LV/$2"
	# root only, and no polkit (Debian's default for the read-write socket) to ask
	auth_unix_ro = "none"
	auth_unix_rw = "none"
	unix_sock_rw_perms = "0700"
	host_uuid = "$uuid"
	log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	EOF
	cat > "$e/qemu.conf" <<-EOF
	# no unprivileged user to run QEMU as, nor files to chown for one
	user = "root"
	group = "root"
	dynamic_ownership = 0
	remember_owner = 0
	# no SELinux or AppArmor in the L1
	security_driver = "none"
	# no private /dev per domain: libvirt would mount and populate one, and a VFIO group's
	# device node must then be created there too; the machine's /dev is enough here
	namespaces = [ ]
	# no cgroups (none are mounted in the L1) and no systemd-machined to register with
	cgroup_controllers = [ ]
	# QEMU's stdout/stderr straight to /var/log/libvirt/qemu/NAME.log, not through virtlogd,
	# which nothing starts
	stdio_handler = "file"
	EOF
}

start() {
	R=$1
	[ -x "$R/usr/sbin/libvirtd" ] || { echo "$R: no libvirtd" >&2; exit 1; }
	[ ! -e "$R$LV" ] || { echo "$R$LV exists: already started (stop first)" >&2; exit 1; }
	# ROOT bound onto itself: its / inside the chroot is then a mount point, which unshare
	# needs to make the new namespace's mounts private (EINVAL on a plain directory)
	self=
	is_mount "$R" || { mount -o bind "$R" "$R"; self=1; }
	mount -o bind /dev "$R/dev"
	mount -o bind /proc "$R/proc"
	mount -o bind /sys "$R/sys"
	# libvirt reads /lib/modules/$(uname -r)/modules.alias to find the VFIO variant driver
	# (nvme-vfio-pci) of a hostdev; the machine's modules, read-only
	# (by its real path: ROOT's /lib is a link to usr/lib, and busybox's mount -o remount
	# looks the path up in /proc/mounts as it is given)
	if [ -d /lib/modules ]; then
		mkdir -p "$R/lib/modules"
		m=$(cd "$R/lib/modules" && pwd -P)
		mount -o bind /lib/modules "$m"
		mount -o remount,bind,ro "$m"
	fi
	mount -t tmpfs -o mode=1777 lv-tmp "$R/tmp"
	mkdir -p "$R$LV"
	[ -z "$self" ] || : > "$R$LV/self-bind"	# for stop
	for h in A B; do
		mkdir -p "$R$LV/$h/run" "$R$LV/$h/lib" "$R$LV/$h/log"
		host_conf "$R" $h
	done
	mkdir -p "$R/var/lib/libvirt" "$R/var/log/libvirt" "$R/var/cache/libvirt"

	for h in A B; do
		# In the new namespaces (util-linux unshare makes the mounts private, so nothing
		# leaks back): a hostname of its own, and its own /run (libvirt's runtime state:
		# running domains' status XML, QEMU monitor sockets, pid files), /var/lib/libvirt
		# (saved and managed state, QEMU's per-domain dirs), /var/log/libvirt and
		# /etc/libvirt (configs, persistent domain definitions).  /var/cache/libvirt
		# stays shared: it holds the QEMU capabilities, which are the same for both and,
		# shared, are probed once (B starts after A has written them).
		# shellcheck disable=SC2016
		in_root unshare -m -u /bin/sh -euc '
			hostname "lv-$1"
			mount --bind "$2/$1/run" /run
			mount --bind "$2/$1/lib" /var/lib/libvirt
			mount --bind "$2/$1/log" /var/log/libvirt
			mount --bind "$2/$1/etc" /etc/libvirt
			exec libvirtd --daemon --pid-file "$2/$1/libvirtd.pid" \
				--config /etc/libvirt/libvirtd.conf' sh $h "$LV"
		# it answers once its drivers are up (the QEMU driver probes the binary first; a
		# client that connects earlier waits)
		t0=$(date +%s)
		until in_root virsh -q -c "$(uri $h)" version >/dev/null 2>&1; do
			t=$(($(date +%s) - t0))
			if [ $t -gt "$TIMEOUT" ] || ! daemon_pid "$R" $h >/dev/null; then
				echo "libvirtd $h does not answer; its log:" >&2
				tail -20 "$R$LV/$h/log/libvirtd.log" >&2 || true
				exit 1
			fi
			sleep 1
		done
		echo "libvirt host $h: $(uri $h), up after $(($(date +%s) - t0))s"
	done
}

stop() {
	R=$1
	for h in A B; do
		p=$(daemon_pid "$R" $h) || continue
		for d in $(in_root virsh -q -c "$(uri $h)" list --name 2>/dev/null); do
			in_root virsh -q -c "$(uri $h)" destroy "$d" >/dev/null || true
		done
		kill "$p"
		t=0
		while kill -0 "$p" 2>/dev/null && [ $t -lt 30 ]; do sleep 1; t=$((t + 1)); done
	done
	# a QEMU that libvirtd did not stop (it outlives its daemon by design): NAME.pid of each
	# domain; driver.pid there is libvirtd's own
	for f in "$R$LV"/?/run/libvirt/qemu/*.pid; do
		p=$(cat "$f" 2>/dev/null) || continue
		case $(cat "/proc/$p/comm" 2>/dev/null) in qemu*) kill -9 "$p" ;; esac
		t=0
		while [ -e "/proc/$p" ] && [ $t -lt 10 ]; do sleep 1; t=$((t + 1)); done
	done
	self=; [ -e "$R$LV/self-bind" ] && self=.
	for m in tmp lib/modules sys proc dev $self; do
		if is_mount "$R/$m"; then
			umount "$R/$m" 2>/dev/null || umount -l "$R/$m"
		fi
	done
}

case "${1:-}" in
start)	[ $# = 2 ] || usage; start "$2" ;;
stop)	[ $# = 2 ] || usage; stop "$2" ;;
uri)	[ $# = 2 ] || usage
	case $2 in A|B) uri "$2" ;; *) usage ;; esac ;;
*)	usage ;;
esac
