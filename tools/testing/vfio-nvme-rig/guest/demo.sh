#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What the rig sets up: both drives, their secondary controllers and VFs.
for pf in 0 1; do vfio-nvme-setup list $pf; done
