#!/bin/bash
# Build the guest initramfs: busybox-static, /init, our static test
# programs and scenario scripts under /tests.
source "$(dirname "$0")/lib.sh"
ST=$TOP/selftests/fphint
ROOT=$BUILD/initramfs
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,tests,etc}
cp /bin/busybox "$ROOT/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
	[ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done
install -m755 "$TOP/qemu/guest/init" "$ROOT/init"
CFLAGS="-O2 -static -Wall -I$KPRISTINE/tools/testing/selftests -I$TOP/kernel/include/uapi"
for prog in memhog fphint_sysfs_test; do
	gcc $CFLAGS -o "$ROOT/tests/$prog" "$ST/$prog.c"
done
install -m755 "$ST"/scenario-* "$ROOT/tests/"
install -m644 "$ST/lib.sh" "$ROOT/tests/lib.sh"
echo "root:x:0:0:root:/:/bin/sh" > "$ROOT/etc/passwd"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 > "$INITRD")
log "initramfs ready: $INITRD ($(du -h "$INITRD" | cut -f1))"
