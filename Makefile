# fphint: guest free page hinting.  See README.md.
SHELL := /bin/bash
.PHONY: all deps kernel debug-kernel bench-kernel initramfs layers guest qemu demo check check-long bench density series checkpatch clean distclean

all: guest

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel-build.sh

initramfs: deps
	@scripts/initramfs.sh

guest: kernel initramfs

# The patched QEMU (host counters, host-set policy): Debian 12's qemu source
# package + qemu/patches, x86_64-softmmu only, ccache; build/qemu/.
qemu: deps
	@scripts/qemu-build.sh

# Initramfs layers for the reliability suites: stress-ng (Debian's), and
# the kernel's own tools/testing/selftests/vm built from the same tree.
layers: initramfs
	@scripts/initramfs-layer.sh stress
	@scripts/initramfs-layer.sh mm

# The kernel make check boots: the same with DEBUG_VM, lockdep and
# atomic-sleep checks (kernel/configs/fphint-debug.config).
debug-kernel: deps
	@FPHINT_VARIANT=debug scripts/kernel-build.sh

# The bench-only kernel: kernel/patches + bench/patches (upstream-fast).
bench-kernel: deps
	@FPHINT_VARIANT=bench scripts/kernel-build.sh

# fphint vs stock page reporting vs no hinting: bench/results/latest.{json,md}, *.png.
bench: guest bench-kernel
	@python3 bench/run.py

# Density: K 2 GiB guests at once, each cycling through a 1.5 GiB peak,
# peaks staggered; summed QEMU RSS, slowdown and guests per host for off,
# upstream, upstream-fast, fphint-default: bench/results/density.{json,md,png}.
density: guest bench-kernel
	@python3 bench/density.py

# Boot a 2 GiB guest, free 1 GiB, print host RSS next to fphint's counters,
# then the same burst with stock page_reporting for comparison.
demo: guest qemu
	@python3 scripts/demo.py

# All tests, on the debug kernel: KUnit, sysfs and netlink selftests, the
# switch storm, fault injection, low memory, host discard check, data
# integrity and stress-ng, the kernel's mm selftests off vs aggressive,
# fphintctl in and out of the guest, end-to-end host RSS; ends
# "N passed, N failed".
check: debug-kernel layers qemu
	@python3 scripts/check.py

# The reliability suites again, longer (about 30 min under TCG): storm
# 10 min, integrity 5 min, each stress-ng run 2 min, each low-memory run 1 min.
check-long: debug-kernel layers
	@FPHINT_STORM_SECS=600 FPHINT_INTEGRITY_SECS=300 FPHINT_STRESS_SECS=120 \
	 FPHINT_LOWMEM_SECS=60 python3 scripts/check.py selftest faults lowmem hostcheck integrity peer

# The guest side as a git format-patch series against v6.1 in build/series/
# (cover letter, new files by stage, kernel/patches); "scripts/series.sh
# --verify" also builds the tree after every patch (slow).
series: deps
	@[ -f build/linux-pristine/Makefile ] || scripts/kernel-build.sh
	@scripts/series.sh --check

# checkpatch.pl of the 6.1 tree on kernel/ (also part of make check).
checkpatch:
	@scripts/checkpatch.sh

clean:
	rm -rf build/kvm-src build/kvm-out build/density-quick build/series build/series-git build/series-am build/series-out build/kernel-out build/bench build/debug build/initramfs build/initrd.gz build/initrd-*.gz build/layer-* build/logs build/bench-quick

distclean:
	rm -rf build
