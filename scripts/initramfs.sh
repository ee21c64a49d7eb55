#!/bin/bash
# Build the guest initramfs: busybox-static, /init, our static test
# programs and scenario scripts under /tests, fphintctl and the policy
# files, and Debian's QEMU guest agent (qemu-ga) with its shared libraries.
source "$(dirname "$0")/lib.sh"
ST=$TOP/selftests/fphint
ROOT=$BUILD/initramfs
DEBS=$BUILD/debs

# fetch_deb PKG: path of PKG's .deb in $DEBS, downloaded once (never
# installed on the host).  apt-get update only when the download fails.
fetch_deb() {
	local pkg=$1 f
	f=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$f" ]; then
		mkdir -p "$DEBS"
		local get=(apt-get download -qq -o APT::Sandbox::User=root "$pkg")
		if ! (cd "$DEBS" && "${get[@]}") >&2; then
			log "apt-get download $pkg failed; running apt-get update"
			apt-get update -qq >&2 || die "apt-get update failed"
			(cd "$DEBS" && "${get[@]}") >&2 || die "cannot download $pkg"
		fi
		f=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
		[ -n "$f" ] || die "apt-get download $pkg left no .deb in $DEBS"
		log "downloaded $(basename "$f")"
	fi
	echo "$f"
}

# deb_depends DEB: package names in DEB's Depends (first alternative each).
deb_depends() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' || true
}

host_has() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# extract_with_deps PKG SYSROOT: unpack PKG's .deb into SYSROOT, plus, the
# same way, every package it needs (transitively) that the host lacks, so
# that ldd below finds each library either in SYSROOT or on the host.
extract_with_deps() {
	local todo=("$1") sysroot=$2 seen=" " p d deb
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}; todo=("${todo[@]:1}")
		case "$seen" in *" $p "*) continue ;; esac
		seen="$seen$p "
		deb=$(fetch_deb "$p")
		dpkg-deb -x "$deb" "$sysroot"
		[ "$p" = "$1" ] || log "host lacks $p: libraries taken from $(basename "$deb")"
		for d in $(deb_depends "$deb"); do
			host_has "$d" || todo+=("$d")
		done
	done
}

# copy_with_libs BINARY DEST_ROOT [SYSROOT]: copy BINARY and every shared
# library ldd lists for it (and the ELF interpreter) under DEST_ROOT,
# keeping their paths.  With SYSROOT (an unpacked package tree), BINARY is
# inside it, its library directories are searched before the host's, and
# the SYSROOT prefix is dropped from the destination paths.
copy_with_libs() {
	local bin=$1 dest=$2 sysroot=${3:-} lp="" d lib out
	if [ -n "$sysroot" ]; then
		for d in "$sysroot"/{,usr/}lib{,/*-linux-gnu,64}; do
			if [ -d "$d" ]; then lp="$lp${lp:+:}$d"; fi
		done
	fi
	out=$(LD_LIBRARY_PATH=$lp ldd "$bin" 2>&1) || true
	if grep -q 'not found' <<<"$out"; then
		die "$bin: libraries not found: $(grep 'not found' <<<"$out" | awk '{print $1}' | xargs)"
	fi
	install -D -m755 "$bin" "$dest${bin#"$sysroot"}"
	grep -qE 'not a dynamic executable|statically linked' <<<"$out" && return 0
	grep -q '=>' <<<"$out" || die "ldd $bin: $out"
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out"); do
		install -D -m755 "$lib" "$dest${lib#"$sysroot"}"   # follows symlinks
	done
}

rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,tests,etc,run,var/run,usr/sbin}
cp /bin/busybox "$ROOT/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
	[ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done
install -m755 "$TOP/qemu/guest/init" "$ROOT/init"
CFLAGS="-O2 -static -Wall -I$KPRISTINE/tools/testing/selftests -I$TOP/kernel/include/uapi"
for prog in memhog fphint_sysfs_test fphint_netlink_test fphint_storm_test; do
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
