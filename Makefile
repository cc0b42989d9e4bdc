# SPDX-License-Identifier: GPL-2.0
#
# Project entry points (see README).  Kernel builds of this tree go through Kbuild.
#
#   make demo       boot the rig and run the main job, printing what happened
#   make check      build what is stale, boot the rig, run every test
#   make lint       checkpatch --strict, sparse (C=2) and W=1 on the kernel code
#   make shell      boot the rig with a shell on the console
#   make debug-kernel   6.12 with KASAN, lockdep, KUnit, noiommu, iommufd, our driver
#   make patches    the submission series for linux 6.12 in build/patches
#   make deb        the nvme-vfio-pci-dkms Debian package in build/deb
#   make bench      boot the rig and measure (not a test): tables and plots in build/bench
#
# make check runs on both guest kernels and tests the package (CHECK_KERNELS="debian debug
# package");
# KERNEL=debug runs demo and shell on the debug kernel instead of Debian's.

RIG := tools/testing/vfio-nvme-rig
B := $(CURDIR)/build
export B
J ?= $(shell nproc)
export J
KERNEL ?= debian

KREL := 6.12.117+deb12-amd64
KROOT := $(B)/kroot
KHDR := $(KROOT)/usr/src/linux-headers-$(KREL)
ST := tools/testing/selftests/vfio-nvme
OUR_KO := drivers/vfio/pci/nvme/nvme-vfio-pci.ko
LOGDIR := $(B)/logs
DEBUG_KERNEL := $(B)/debug-kroot/bzImage

DRIVER_SRC := Kbuild $(shell find drivers include -name '*.[ch]' -o -name Kconfig -o -name Makefile 2>/dev/null)
ST_SRC := $(shell find $(ST) -type f) $(wildcard tools/nvme-vfio/*.c)
DOC_SRC := $(shell find Documentation -type f 2>/dev/null)
GUEST := $(wildcard $(RIG)/guest/*) tools/nvme-vfio/nvme-vfio-check
PKG_SRC := $(shell find scripts/package tools/nvme-vfio -type f)

INITRD_debian := $(B)/initramfs.cpio.gz
VM_KERNEL_debian := $(KROOT)/boot/vmlinuz-$(KREL)
INITRD_debug := $(B)/initramfs-debug.cpio.gz
VM_KERNEL_debug := $(DEBUG_KERNEL)
export INITRD_debian INITRD_debug VM_KERNEL_debian VM_KERNEL_debug
ifeq ($(INITRD_$(KERNEL)),)
$(error KERNEL must be debian or debug)
endif
INITRD := $(INITRD_$(KERNEL))
VM := VM_KERNEL=$(VM_KERNEL_$(KERNEL)) VM_INITRD=$(INITRD) $(RIG)/run-vm.sh

.PHONY: all check demo bench shell lint deps qemu debug-kernel patches deb clean distclean
all: $(INITRD) qemu

$(B)/.deps: $(RIG)/deps.sh
	$(RIG)/deps.sh
	@mkdir -p $(B) && touch $@

deps: $(B)/.deps

$(B)/.fetched: $(B)/.deps $(RIG)/fetch-kernel.sh
	$(RIG)/fetch-kernel.sh
	@touch $@

# linux-source with our patches and files: the base of every kernel-side build
$(B)/linux/.prepared: $(B)/.fetched $(RIG)/prepare-tree.sh $(wildcard patches/linux/*) \
		$(DRIVER_SRC) $(ST_SRC) $(DOC_SRC)
	$(RIG)/prepare-tree.sh
	@touch $@

$(B)/nvme-host/.built: $(B)/linux/.prepared $(RIG)/build-nvme-host.sh
	$(RIG)/build-nvme-host.sh
	@touch $@

$(OUR_KO): $(B)/nvme-host/.built $(DRIVER_SRC)
	$(MAKE) -C $(KHDR) M=$(CURDIR) CONFIG_NVME_VFIO_PCI=m \
		KBUILD_EXTRA_SYMBOLS=$(B)/nvme-host/Module.symvers modules

# the selftests build inside the kernel tree, with the kernel's own lib.mk
$(B)/selftests/.built: $(B)/linux/.prepared
	mkdir -p $(B)/selftests
	$(MAKE) -C $(B)/linux/$(ST) OUTPUT=$(B)/selftests KHDR_INCLUDES="-isystem $(B)/uapi/include"
	cp $(ST)/settings $(ST)/*.sh $(B)/selftests/
	mkdir -p $(B)/kselftest
	cp $(B)/linux/tools/testing/selftests/kselftest/ktap_helpers.sh $(B)/kselftest/
	@touch $@

# the VMM and the nested guest of qemu_migration_test
VMM_ROOT := $(B)/vmm
L2_GUEST := $(B)/l2/l2-nvme-io.elf
export VMM_ROOT L2_GUEST
$(VMM_ROOT)/.done: $(B)/.deps $(RIG)/fetch-vmm.sh
	$(RIG)/fetch-vmm.sh

$(L2_GUEST): $(wildcard tools/testing/vfio-nvme-l2/*)
	mkdir -p $(B)/l2
	$(MAKE) -C tools/testing/vfio-nvme-l2 OUTPUT=$(B)/l2

# the libvirt root of libvirt_migration_test (libvirt 11.3 and QEMU 10.0 from
# bookworm-backports), a second archive in each image, unpacked at /libvirt
LIBVIRT_ROOT := $(B)/libvirt-root.cpio.gz
export LIBVIRT_ROOT
$(LIBVIRT_ROOT): $(B)/.deps $(RIG)/build-libvirt-root.sh
	$(RIG)/build-libvirt-root.sh $@

$(B)/initramfs.cpio.gz: $(RIG)/mkinitramfs.sh $(OUR_KO) $(B)/selftests/.built $(GUEST) \
		$(VMM_ROOT)/.done $(L2_GUEST) $(LIBVIRT_ROOT)
	$(RIG)/mkinitramfs.sh $@ $(KROOT) $(KREL) $(B)/nvme-host $(OUR_KO) -- $(B)/selftests

$(B)/initramfs-debug.cpio.gz: $(RIG)/mkinitramfs.sh $(DEBUG_KERNEL) $(B)/selftests/.built $(GUEST) \
		$(VMM_ROOT)/.done $(L2_GUEST) $(LIBVIRT_ROOT)
	$(RIG)/mkinitramfs.sh $@ $(B)/debug-kroot $$(cat $(B)/debug-kroot/kernelrelease) - -- $(B)/selftests

# the Debian package (scripts/package): DKMS source of the driver and of the patched
# drivers/nvme/host, nvme-vfio-check, the guide
$(B)/deb/.built: $(B)/linux/.prepared $(PKG_SRC) $(DRIVER_SRC) $(DOC_SRC)
	scripts/package/build-deb.sh $(B)/deb
	@touch $@
# lintian: an error or a warning fails make deb (test-dkms-package.sh reports it as a case)
deb: $(B)/deb/.built
	lintian --fail-on error,warning --info $(B)/deb/*.changes

# "package" in CHECK_KERNELS: test-dkms-package.sh installs the package in a Debian root, then
# Debian's kernel boots with the modules it installed (none of the rig's) and runs these tests
PKGROOT := $(B)/pkgroot
PKG_INITRD := $(B)/initramfs-package.cpio.gz
PKG_TESTS := vfio_mig_test,nvme_vfio_check_test.sh

debug-kernel: $(DEBUG_KERNEL)
$(DEBUG_KERNEL): $(B)/linux/.prepared $(RIG)/build-debug-kernel.sh
	$(RIG)/build-debug-kernel.sh

qemu: $(B)/.deps
	$(RIG)/build-qemu.sh

# every selftest on Debian's kernel and on the debug kernel (KASAN, lockdep);
# ONLY=a_test,b_test runs just those; RIG_APPEND=VAR=value puts VAR in the
# tests' environment (the kernel hands unknown parameters to init)
CHECK_KERNELS ?= debian debug package
# The VM runs go two at a time (run-checks.sh; one on a one-core machine): each TCG guest
# keeps one host core busy.  The debug kernel's run is the longest, so without ONLY it is
# split in two: CHECK_SPLIT's programs in a run of their own ("debug-split"), the rest in
# the other.  Their results read "debug: ..." either way.
CHECK_JOBS ?= $(shell [ "$$(nproc)" -ge 2 ] && echo 2 || echo 1)
CHECK_SPLIT ?= libvirt_migration_test
INITRD_package := $(PKG_INITRD)
VM_KERNEL_package := $(PKGROOT)/boot/vmlinuz-$(KREL)
export INITRD_package VM_KERNEL_package
check: $(foreach k,$(filter-out package,$(CHECK_KERNELS)),$(INITRD_$(k))) qemu \
		$(if $(filter package,$(CHECK_KERNELS)),$(B)/deb/.built $(B)/selftests/.built)
	@mkdir -p $(LOGDIR) && rm -f $(LOGDIR)/check-*.log $(LOGDIR)/package.log $(LOGDIR)/runner.log
	$(RIG)/lint.sh > $(LOGDIR)/lint.log 2>&1; grep -v '^RESULT' $(LOGDIR)/lint.log || true
	$(RIG)/test-runner.sh > $(LOGDIR)/runner.log 2>&1; grep -v '^RESULT' $(LOGDIR)/runner.log || true
	@if [ -n "$(filter package,$(CHECK_KERNELS))" ]; then \
		echo "installing the package in a Debian root; log: $(LOGDIR)/package.log"; \
		rm -f $(PKG_INITRD); \
		$(RIG)/test-dkms-package.sh $(B)/deb/nvme-vfio-pci-dkms_*.deb $(PKGROOT) \
			$(B)/deb/nvme-vfio-tools_*.deb > $(LOGDIR)/package.log 2>&1 && \
		NVME_VFIO_CHECK=$(PKGROOT)/usr/sbin/nvme-vfio-check VMM_ROOT= L2_GUEST= LIBVIRT_ROOT= \
			$(RIG)/mkinitramfs.sh $(PKG_INITRD) $(PKGROOT) $(KREL) - -- $(B)/selftests \
			>> $(LOGDIR)/package.log 2>&1 || \
		echo "RESULT not ok package: the package's guest image (see $(LOGDIR)/package.log)" \
			>> $(LOGDIR)/package.log; \
		grep '^RESULT' $(LOGDIR)/package.log; \
	fi
	ONLY=$(ONLY) PKG_TESTS=$(PKG_TESTS) CHECK_SPLIT=$(CHECK_SPLIT) RIG_APPEND="$(RIG_APPEND)" \
		$(RIG)/run-checks.sh $(CHECK_JOBS) $(LOGDIR) $(CHECK_KERNELS); true
	$(RIG)/tap-summary.sh $(LOGDIR)/lint.log $(LOGDIR)/runner.log $(if $(filter package,$(CHECK_KERNELS)),$(LOGDIR)/package.log) \
		$(foreach k,$(CHECK_KERNELS),$(LOGDIR)/check-$(k).log) \
		$(if $(and $(filter debug,$(CHECK_KERNELS)),$(if $(ONLY),,y)),$(LOGDIR)/check-debug-split.log)

demo: all
	@rm -f $(LOGDIR)/demo.log
	-$(VM) demo $(LOGDIR)/demo.log
	@sed -n '/RIG: /,$$p' $(LOGDIR)/demo.log | tr -d '\r' | grep -v 'reboot: Power down' 
	@grep -q 'RIG-DONE rc=0' $(LOGDIR)/demo.log

# the benchmark: Debian's kernel for the data path, downtime, concurrency and QEMU
# figures, the debug kernel for DMA logging (BENCH_KERNELS="debian debug"); plots
# with gnuplot-nox
BENCH_KERNELS ?= debian debug
export BENCH_KERNELS
$(B)/.bench-deps: $(RIG)/deps.sh
	$(RIG)/deps.sh gnuplot-nox
	@mkdir -p $(B) && touch $@

bench: $(foreach k,$(BENCH_KERNELS),$(INITRD_$(k))) qemu $(B)/.bench-deps
	$(RIG)/run-bench.sh

lint: $(OUR_KO)
	$(RIG)/lint.sh

# hook patches + new files -> one git format-patch style series (see patches/linux/new-files)
patches:
	$(RIG)/format-patches.sh $(B)/patches

shell: all
	$(VM) shell /dev/null

clean:
	-$(MAKE) -C $(KHDR) M=$(CURDIR) clean
	rm -rf $(B)/selftests $(B)/nvme-host $(B)/initramfs*.cpio.gz $(LOGDIR) $(B)/deb $(PKGROOT)

distclean:
	rm -rf $(B)
