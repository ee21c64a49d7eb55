#!/bin/bash
# Build an initramfs layer: scripts/layers/NAME.sh fills $LROOT (a tree
# unpacked over the base image at boot), and build/initrd-NAME.gz is the
# base build/initrd.gz followed by that tree as a second compressed cpio
# archive (the kernel unpacks concatenated archives in order).  Suites that
# need big extras (stress-ng, the kernel's mm selftests) boot a layer;
# every other boot stays small.  Usage: initramfs-layer.sh NAME
source "$(dirname "$0")/lib.sh"
NAME=${1:?usage: initramfs-layer.sh NAME}
SPEC=$TOP/scripts/layers/$NAME.sh
[ -f "$SPEC" ] || die "no layer '$NAME' (scripts/layers/$NAME.sh)"
[ -f "$INITRD" ] || die "$INITRD missing: run scripts/initramfs.sh first"
LROOT=$BUILD/layer-$NAME
LTMP=$(mktemp -d)
trap 'rm -rf "$LTMP"' EXIT
rm -rf "$LROOT"
mkdir -p "$LROOT"
# shellcheck source=/dev/null
source "$SPEC"
OUT=$BUILD/initrd-$NAME.gz
{
	cat "$INITRD"
	(cd "$LROOT" && find . | cpio -o -H newc --quiet | gzip -1)
} > "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
log "layer $NAME ready: $OUT ($(du -h "$OUT" | cut -f1), layer $(du -sh "$LROOT" | cut -f1) unpacked)"
