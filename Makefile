# fphint: guest free page hinting.  See README.md.
SHELL := /bin/bash
.PHONY: all deps kernel debug-kernel bench-kernel initramfs guest demo check bench clean distclean

all: guest

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel-build.sh

initramfs: deps
	@scripts/initramfs.sh

guest: kernel initramfs

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

# Boot a 2 GiB guest, free 1 GiB, print host RSS next to fphint's counters,
# then the same burst with stock page_reporting for comparison.
demo: guest
	@python3 scripts/demo.py

# All tests, on the debug kernel: KUnit, sysfs and netlink selftests,
# fphintctl in and out of the guest, end-to-end host RSS; ends "N passed, N failed".
check: debug-kernel initramfs
	@python3 scripts/check.py

clean:
	rm -rf build/kernel-out build/bench build/debug build/initramfs build/initrd.gz build/logs build/bench-quick

distclean:
	rm -rf build
