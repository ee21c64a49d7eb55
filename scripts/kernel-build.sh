#!/bin/bash
# Build the guest vmlinux: pristine Debian linux-source-6.1 + kernel/patches/series
# + the kernel/ overlay, tinyconfig + our fragments, built out of tree with ccache.
# Re-running rebuilds only what changed.
source "$(dirname "$0")/lib.sh"
CONFIGS=${FPHINT_KCONFIGS:-"$TOP/kernel/configs/fphint-guest.config"}
# The debug variant: the same kernel with DEBUG_VM, lockdep, atomic-sleep checks.
[ "$VARIANT" = debug ] && CONFIGS="$CONFIGS $TOP/kernel/configs/fphint-debug.config"

[ -f "$KSRC_TAR" ] || die "$KSRC_TAR missing: run scripts/deps.sh"
mkdir -p "$BUILD"
if [ ! -f "$KPRISTINE/Makefile" ]; then
	log "extracting $KSRC_TAR"
	rm -rf "$KPRISTINE" "$BUILD/linux-source-6.1"
	tar -C "$BUILD" -xf "$KSRC_TAR"
	mv "$BUILD/linux-source-6.1" "$KPRISTINE"
fi

# Patch series: kernel/patches, then bench/patches for the bench variant.
SERIES_DIRS=("$TOP/kernel/patches")
[ "$VARIANT" = bench ] && SERIES_DIRS+=("$TOP/bench/patches")
series_sum=$(for d in "${SERIES_DIRS[@]}"; do (cd "$d" && cat series $(grep -v '^#' series)); done | sha1sum | cut -d' ' -f1)
# A changed patch series means a fresh copy; cp -a keeps mtimes so the
# out-of-tree objects stay valid for every file the patches do not touch.
if [ "$(cat "$KTREE/.fphint-series" 2>/dev/null)" != "$series_sum" ]; then
	log "preparing tree${VARIANT:+ ($VARIANT)} (patch series changed)"
	rm -rf "$KTREE"
	mkdir -p "$VDIR"
	cp -a "$KPRISTINE" "$KTREE"
	for d in "${SERIES_DIRS[@]}"; do
		while read -r p; do
			case "$p" in ''|'#'*) continue;; esac
			patch -d "$KTREE" -p1 -s --no-backup-if-mismatch < "$d/$p" ||
				die "patch $p does not apply"
		done < "$d/series"
	done
	echo "$series_sum" > "$KTREE/.fphint-series"
fi
# Overlay: only files whose content differs get rewritten (and rebuilt).
for d in "$TOP"/kernel/*/; do
	case "$(basename "$d")" in configs|patches) continue;; esac
	rsync -rc "$d" "$KTREE/$(basename "$d")/"
done

mkdir -p "$KOUT"
cfgsum=$(cat "$KTREE/kernel/configs/kvm_guest.config" $CONFIGS | sha1sum | cut -d' ' -f1)
if [ "$(cat "$KOUT/.fphint-config" 2>/dev/null)" != "$cfgsum" ] || [ ! -f "$KOUT/.config" ]; then
	log "configuring: tinyconfig + kvm_guest.config + $(for c in $CONFIGS; do basename "$c"; done | xargs)"
	make -s -C "$KTREE" O="$KOUT" tinyconfig >/dev/null
	(cd "$KTREE" && scripts/kconfig/merge_config.sh -m -O "$KOUT" "$KOUT/.config" \
		kernel/configs/kvm_guest.config $CONFIGS >/dev/null)
	make -s -C "$KTREE" O="$KOUT" olddefconfig >/dev/null
	# Every symbol we asked for must have survived olddefconfig.
	for c in $CONFIGS; do
		grep -E '^CONFIG_[A-Z0-9_]+=' "$c" | while IFS= read -r line; do
			grep -qx "$line" "$KOUT/.config" || log "warning: $line not set (dependency missing?)"
		done
	done
	echo "$cfgsum" > "$KOUT/.fphint-config"
fi

log "building vmlinux ($(nproc) jobs, ccache)"
if ! make -s -C "$KTREE" O="$KOUT" -j"$(nproc)" CC="ccache gcc" vmlinux > "$VDIR/kernel-build.log" 2>&1; then
	grep -E 'error|Error' -A3 "$VDIR/kernel-build.log" | head -60 >&2
	die "kernel build failed (full log: $VDIR/kernel-build.log)"
fi
grep -E 'warning:' "$VDIR/kernel-build.log" | grep -i fphint >&2 || true
log "vmlinux ready: $VMLINUX"
