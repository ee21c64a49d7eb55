#!/bin/bash
# Install what building and booting the guest needs (idempotent).
source "$(dirname "$0")/lib.sh"
PKGS=(linux-source-6.1 qemu-system-x86 busybox-static build-essential bc bison
      flex libelf-dev libssl-dev ccache cpio xz-utils lz4 python3 rsync patch
      libnl-genl-3-dev libnl-3-dev libjson-c-dev pkg-config gnuplot-nox
      python3-yaml libvirt-dev)
# libvirt-dev: fphintctl's host build (host --libvirt).  What only the fleet
# suite runs (prometheus, node_exporter, libvirtd) it installs itself
# (scripts/check_fleet.py).
# Not qemu-guest-agent: its service would start on the host.  The guest's
# copy is fetched with apt-get download and unpacked by scripts/initramfs.sh.
apt_install "${PKGS[@]}"
