#!/bin/bash
# Build the guest initramfs: busybox-static, /init, our static test
# programs and scenario scripts under /tests, fphintctl and the policy
# files, and Debian's QEMU guest agent (qemu-ga) with its shared libraries.
source "$(dirname "$0")/lib.sh"
ST=$TOP/selftests/fphint
ROOT=$BUILD/initramfs

rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,tests,etc,run,var/run,usr/sbin}
cp /bin/busybox "$ROOT/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
	[ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done
install -m755 "$TOP/qemu/guest/init" "$ROOT/init"
CFLAGS="-O2 -static -Wall -I$KPRISTINE/tools/testing/selftests -I$TOP/kernel/include/uapi"
for prog in memhog fphint_hypercall_user fphint_sysfs_test fphint_netlink_test fphint_storm_test \
	    fphint_faults_test fphint_lowmem_test fphint_integrity_test fphint_hypercall_test \
	    fphint_known_zero_test; do
	gcc $CFLAGS -o "$ROOT/tests/$prog" "$ST/$prog.c"
done
install -m755 "$ST"/scenario-* "$ROOT/tests/"
install -m644 "$ST/lib.sh" "$ROOT/tests/lib.sh"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT/etc/group"

# fphintctl (static) and the policy files.
if [ -f "$TOP/cli/Makefile" ]; then
	make -s -C "$TOP/cli" BUILD="$BUILD/cli" >&2 || die "building cli/ failed"
fi
if [ -f "$BUILD/cli/fphintctl" ]; then
	install -m755 "$BUILD/cli/fphintctl" "$ROOT/usr/sbin/fphintctl"
fi
mkdir -p "$ROOT/usr/share/fphint/policies" "$ROOT/etc/fphint/policies"
for p in "$TOP"/policies/*.policy; do
	if [ -e "$p" ]; then install -m644 "$p" "$ROOT/usr/share/fphint/policies/"; fi
done

# qemu-ga from Debian's qemu-guest-agent package, unpacked, not installed.
QGA_TMP=$(mktemp -d)
trap 'rm -rf "$QGA_TMP"' EXIT
extract_with_deps qemu-guest-agent "$QGA_TMP"
copy_with_libs "$QGA_TMP/usr/sbin/qemu-ga" "$ROOT" "$QGA_TMP"
log "qemu-ga: $(basename "$(fetch_deb qemu-guest-agent)")"

# Written aside and renamed: a guest booting meanwhile never reads half a file.
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 > "$INITRD.tmp")
mv -f "$INITRD.tmp" "$INITRD"
log "initramfs ready: $INITRD ($(du -h "$INITRD" | cut -f1))"
