# Layer "mm" (sourced by scripts/initramfs-layer.sh, which sets $LROOT and
# $LTMP): the kernel's own mm selftests (tools/testing/selftests/vm of the
# pristine 6.1 tree) under /opt/mm, for selftests/fphint/scenario-peer.
#
#   /opt/mm/*        the test programs, linked statically (the guest has no
#                    libc), run_vmtests.sh and the scripts it runs
#   /bin/bash        Debian's bash-static (run_vmtests.sh is a bash script)
#   /bin/sudo        a shim: run_vmtests.sh runs `sudo -u nobody ./on-fault-limit`
#
# The programs are built out of tree in build/mm-selftests; make keeps that
# incremental, so an unchanged tree costs a second per `make check`.  The
# static libcap and libnuma the Makefile links (mlock-random-test,
# memfd_secret, ksm_tests, migration) come from Debian's libcap-dev and
# libnuma-dev packages unpacked into build/mm-sysroot, not installed.
MM_SRC=$KPRISTINE/tools/testing/selftests/vm
MM_OUT=$BUILD/mm-selftests
MM_SYSROOT=$BUILD/mm-sysroot
[ -f "$MM_SRC/run_vmtests.sh" ] || die "$MM_SRC missing: run scripts/kernel-build.sh first (it unpacks $KPRISTINE)"

if [ ! -f "$MM_SYSROOT/.done" ]; then
	rm -rf "$MM_SYSROOT"
	mkdir -p "$MM_SYSROOT"
	for p in libcap-dev libnuma-dev; do
		dpkg-deb -x "$(fetch_deb "$p")" "$MM_SYSROOT"
	done
	touch "$MM_SYSROOT/.done"
fi

# CAN_BUILD_I386=0: no 32-bit variants (protection_keys_32).  -static goes
# in USERCFLAGS, not only USERLDFLAGS: the protection_keys_64 rule links
# with $(CFLAGS) and no $(LDFLAGS).  -include sys/syscall.h: 6.1's
# mrelease_test.c uses __NR_process_mrelease without including it, so it
# calls syscall(-1), gets ENOSYS and skips itself.  make -k: a program that
# cannot be built costs only itself (its run_test then fails, exit 127).
# make does not see flag changes: a build with other flags starts afresh.
MM_LIBDIR=$MM_SYSROOT/usr/lib/x86_64-linux-gnu
MM_FLAGS=(CAN_BUILD_I386=0
	USERCFLAGS="-O2 -static -include sys/syscall.h -I$MM_SYSROOT/usr/include"
	USERLDFLAGS="-static -L$MM_LIBDIR")
if [ "$(cat "$MM_OUT/.flags" 2>/dev/null)" != "${MM_FLAGS[*]}" ]; then
	rm -rf "$MM_OUT"
	mkdir -p "$MM_OUT"
	echo "${MM_FLAGS[*]}" > "$MM_OUT/.flags"
fi
if ! make -k -j"$(nproc)" -C "$MM_SRC" OUTPUT="$MM_OUT" "${MM_FLAGS[@]}" \
	>"$MM_OUT/build.log" 2>&1; then
	grep -E 'error|Error' "$MM_OUT/build.log" | head -20 >&2 || true
	log "mm: some vm selftests failed to build (see $MM_OUT/build.log)"
fi

D=$LROOT/opt/mm
mkdir -p "$D" "$LROOT/bin"
n=0
for f in "$MM_OUT"/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in *.sh | *.log) continue ;; esac
	if readelf -l "$f" | grep -q 'program interpreter'; then
		die "mm: $f is not static"
	fi
	install -m755 -s "$f" "$D/"
	n=$((n + 1))
done
for s in run_vmtests.sh test_vmalloc.sh test_hmm.sh va_128TBswitch.sh; do
	install -m755 "$MM_SRC/$s" "$D/"
done
install -m644 "$MM_SRC/settings" "$MM_SRC/config" "$D/"

# bash, statically linked, from Debian's bash-static (a file, which replaces
# a busybox symlink of the same name when the layer is unpacked).
dpkg-deb -x "$(fetch_deb bash-static)" "$LTMP/bash-static"
BASH_BIN=$LTMP/bash-static/bin/bash-static
[ -f "$BASH_BIN" ] || BASH_BIN=$LTMP/bash-static/usr/bin/bash-static
[ -f "$BASH_BIN" ] || die "bash-static package has no bin/bash-static"
install -m755 "$BASH_BIN" "$LROOT/bin/bash"

# sudo -u USER CMD ARGS...: busybox su (root needs no password).
cat > "$LROOT/bin/sudo" <<'EOF'
#!/bin/sh
# sudo shim for the mm selftests: only "sudo [-u USER] CMD ARGS...".
user=root
while [ $# -gt 0 ]; do
	case $1 in
	-u) user=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "sudo shim: unsupported option $1" >&2; exit 1 ;;
	*) break ;;
	esac
done
# POSIXLY_CORRECT: su's getopt stops at USER instead of taking CMD's options.
POSIXLY_CORRECT=1 exec su -s /bin/sh "$user" -c 'unset POSIXLY_CORRECT; exec "$0" "$@"' "$@"
EOF
chmod 755 "$LROOT/bin/sudo"
log "mm: $n vm selftest programs, run_vmtests.sh, bash $(basename "$(fetch_deb bash-static)")"
