#!/bin/bash
# Compile-test qemu/kvm/*.patch, the host kernel side of the report
# hypercall: apply it to Debian's 6.1 source and build the KVM objects it
# touches (x86_64_defconfig + KVM, Intel and AMD) with ccache.  Prints
# "kvm-host: OBJ builds, N warnings" per object; exit 1 when a patch does
# not apply or an object does not build.  Nothing here runs a host kernel.
source "$(dirname "$0")/lib.sh"
[ -f "$KPRISTINE/Makefile" ] || die "$KPRISTINE missing: run scripts/kernel-build.sh once"
SRC=$BUILD/kvm-src
OUT=$BUILD/kvm-out
PATCHES=("$TOP"/qemu/kvm/*.patch)

# A hard-linked copy of the pristine tree; the files the patches touch are
# real copies first, so patching them never writes through to the original.
rm -rf "$SRC"
cp -al "$KPRISTINE" "$SRC"
files=$(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "${PATCHES[@]}" | sort -u)
for f in $files; do
	cp --remove-destination "$KPRISTINE/$f" "$SRC/$f"
done
for p in "${PATCHES[@]}"; do
	patch -d "$SRC" -p1 -s --no-backup-if-mismatch < "$p" || die "kvm-host: $(basename "$p") does not apply"
done
log "kvm-host: ${#PATCHES[@]} patch(es) applied to $(echo $files)"

mkdir -p "$OUT"
if [ ! -f "$OUT/.config" ] || ! grep -q '^CONFIG_KVM_AMD=y' "$OUT/.config"; then
	make -s -C "$SRC" O="$OUT" x86_64_defconfig >/dev/null
	"$SRC/scripts/config" --file "$OUT/.config" -e VIRTUALIZATION -e KVM -e KVM_INTEL -e KVM_AMD
	make -s -C "$SRC" O="$OUT" olddefconfig >/dev/null
fi
grep -q '^CONFIG_KVM_AMD=y' "$OUT/.config" || die "kvm-host: KVM not configured"
rc=0
for f in $files; do
	obj=${f%.c}.o
	rm -f "$OUT/$obj"
	if nice -n 10 make -C "$SRC" O="$OUT" -j"$(nproc)" CC="ccache gcc" "$obj" > "$OUT/build.log" 2>&1; then
		n=$(grep -c "${f}:[0-9]*:[0-9]*: warning" "$OUT/build.log" || true)
		echo "kvm-host: $obj builds, $n warnings"
	else
		grep -E 'error' -A3 "$OUT/build.log" | head -20 >&2
		echo "kvm-host: $obj does not build"
		rc=1
	fi
done
exit $rc
