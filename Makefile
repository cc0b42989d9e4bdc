# SPDX-License-Identifier: GPL-2.0
#
# Project entry points (see README).  Kernel builds of this tree go through Kbuild.
#
#   make demo     boot the rig and run the main job, printing what happened
#   make check    build what is stale, boot the rig, run every selftest
#   make lint     checkpatch --strict, sparse (C=1) and W=1 on the kernel code
#   make shell    boot the rig with a shell on the console
#   make debug-kernel   6.12 with KASAN, lockdep, KUnit, noiommu, iommufd, our driver

RIG := tools/testing/vfio-nvme-rig
B := $(CURDIR)/build
export B
J ?= $(shell nproc)
export J

KREL := 6.12.117+deb12-amd64
KROOT := $(B)/kroot
KHDR := $(KROOT)/usr/src/linux-headers-$(KREL)
KSRC := $(B)/linux-source-6.12
ST := tools/testing/selftests/vfio-nvme
ST_KSRC := $(KSRC)/tools/testing/selftests/vfio-nvme
OUR_KO := drivers/vfio/pci/nvme/nvme-vfio-pci.ko
INITRD := $(B)/initramfs.cpio.gz
LOGDIR := $(B)/logs

DRIVER_SRC := $(shell find drivers include -name '*.[ch]' -o -name Kconfig -o -name Makefile 2>/dev/null) Kbuild
ST_SRC := $(shell find $(ST) -type f)
GUEST := $(wildcard $(RIG)/guest/*)

.PHONY: all check demo shell lint deps qemu debug-kernel clean distclean
all: $(INITRD) qemu

$(B)/.deps: $(RIG)/deps.sh
	$(RIG)/deps.sh
	@mkdir -p $(B) && touch $@

deps: $(B)/.deps

$(B)/.fetched: $(B)/.deps $(RIG)/fetch-kernel.sh
	$(RIG)/fetch-kernel.sh
	@touch $@

$(B)/nvme-host/.built: $(B)/.fetched $(RIG)/build-nvme-host.sh $(wildcard patches/linux/*)
	$(RIG)/build-nvme-host.sh
	@touch $@

$(OUR_KO): $(B)/.fetched $(B)/nvme-host/.built $(DRIVER_SRC)
	$(MAKE) -C $(KHDR) M=$(CURDIR) CONFIG_NVME_VFIO_PCI=m \
		KBUILD_EXTRA_SYMBOLS=$(B)/nvme-host/drivers/nvme/host/Module.symvers modules

# the selftests build inside the kernel source, with the kernel's own lib.mk
$(B)/selftests/.built: $(B)/.fetched $(ST_SRC)
	rm -rf $(ST_KSRC) && cp -r $(ST) $(ST_KSRC) && mkdir -p $(B)/selftests
	$(MAKE) -C $(ST_KSRC) OUTPUT=$(B)/selftests KHDR_INCLUDES="-isystem $(B)/uapi/include"
	cp $(ST)/settings $(B)/selftests/
	@touch $@

$(INITRD): $(RIG)/mkinitramfs.sh $(OUR_KO) $(B)/selftests/.built $(B)/nvme-host/.built $(GUEST)
	$(RIG)/mkinitramfs.sh $@ $(KROOT) $(KREL) $(B)/nvme-host/drivers/nvme/host \
		$(OUR_KO) -- $(B)/selftests

qemu: $(B)/.deps
	$(RIG)/build-qemu.sh

check: all
	@rm -f $(LOGDIR)/check.log
	@echo "booting the rig (TCG); console log: $(LOGDIR)/check.log"
	-$(RIG)/run-vm.sh check $(LOGDIR)/check.log
	@grep -E '^(RIG|QEMU)' $(LOGDIR)/check.log || true
	$(RIG)/tap-summary.sh $(LOGDIR)/check.log

demo: all
	@rm -f $(LOGDIR)/demo.log
	-$(RIG)/run-vm.sh demo $(LOGDIR)/demo.log
	@sed -n '/^RIG: /,$$p' $(LOGDIR)/demo.log
	@grep -q 'RIG-DONE rc=0' $(LOGDIR)/demo.log

shell: all
	$(RIG)/run-vm.sh shell /dev/null

clean:
	-$(MAKE) -C $(KHDR) M=$(CURDIR) clean
	rm -rf $(B)/selftests $(B)/nvme-host $(INITRD) $(LOGDIR)

distclean:
	rm -rf $(B)
