# Shared paths and helpers for fphint scripts.  Sourced, never run.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FPHINT_BUILD:-$TOP/build}
KSRC_TAR=/usr/src/linux-source-6.1.tar.xz
KPRISTINE=$BUILD/linux-pristine
# FPHINT_VARIANT=bench builds the bench-only kernel (kernel/patches plus
# bench/patches) in build/bench/, side by side with the main one.
VARIANT=${FPHINT_VARIANT:-}
VDIR=$BUILD${VARIANT:+/$VARIANT}
KTREE=$VDIR/linux
KOUT=$VDIR/kernel-out
VMLINUX=$KOUT/vmlinux
INITRD=$BUILD/initrd.gz
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/fphint-ccache}
# Paths relative to build/: clones in other directories share the cache.
export CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=true
# Kbuild passes -fmacro-prefix-map=$srctree/=; it maps to the same relative
# paths in every tree, so it must not split the cache.
export CCACHE_IGNOREOPTIONS='-fmacro-prefix-map=*'
log() { printf '[fphint] %s\n' "$*" >&2; }
die() { printf '[fphint] error: %s\n' "$*" >&2; exit 1; }

# ---- packing Debian binaries into guest images (initramfs*.sh) ----------
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

# apt_install PKG...: install those of PKG the host lacks (idempotent).
apt_install() {
	local p missing=()
	for p in "$@"; do
		host_has "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

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
