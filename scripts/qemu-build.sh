#!/bin/bash
# Build the patched QEMU: Debian 12's qemu source package (apt-get source,
# through a private apt configuration under build/apt/), Debian's own
# debian/patches, then qemu/patches/series; x86_64-softmmu only, ccache.
# Re-running rebuilds only what changed.  Result: build/qemu/qemu-system-x86_64
# (run it with -L /usr/share/qemu -L /usr/share/seabios -L /usr/lib/ipxe/qemu).
source "$(dirname "$0")/lib.sh"
QSRC=$BUILD/qemu-src            # what apt-get source downloaded (once)
QPRISTINE=$BUILD/qemu-pristine  # unpacked + Debian's patches
QTREE=$BUILD/qemu-tree          # + our series (fresh when the series changes)
QOUT=$BUILD/qemu                # meson build dir; the binary lands here
APTDIR=$BUILD/apt
NICE=(nice -n "${FPHINT_NICE:-10}")

# ---- build dependencies: only what the configuration below needs --------
# (7.2's configure needs no venv; zlib is mandatory; dpkg-dev for
# dpkg-source; the firmware packages are what -L points at)
PKGS=(build-essential ccache ninja-build meson pkg-config python3
      libglib2.0-dev libpixman-1-dev libfdt-dev libslirp-dev zlib1g-dev
      dpkg-dev patch
      seabios ipxe-qemu qemu-system-data)
apt_install "${PKGS[@]}"

# ---- private apt configuration: deb-src lines mirroring the deb entries --
# Read from the machine's own sources (one-line .list and deb822 .sources);
# nothing is written outside build/apt/.
gen_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: stanzas separated by blank lines; fields Types, URIs,
		# Suites, Components, Signed-By, Enabled.
		awk '
		function flush(   n, u, s, i, j, opt, nu, ns) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
				opt = signed != "" ? " [signed-by=" signed "]" : ""
				nu = split(uris, u, " "); ns = split(suites, s, " ")
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
					print "deb-src" opt " " u[i] " " s[j] " " comps
			}
			types = uris = suites = comps = signed = enabled = ""
		}
		/^[[:space:]]*#/ { next }
		/^[[:space:]]*$/ { flush(); next }
		{
			key = tolower($1); sub(/:$/, "", key)
			val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
			if (key == "types") types = val
			else if (key == "uris") uris = val
			else if (key == "suites") suites = val
			else if (key == "components") comps = val
			else if (key == "signed-by") signed = val
			else if (key == "enabled") enabled = tolower(val)
		}
		END { flush() }' "$f"
	done
}

mkdir -p "$APTDIR/lists/partial" "$APTDIR/sources.list.d"
APTOPTS=(-o "Dir::Etc::SourceList=$APTDIR/sources.list"
         -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
         -o "Dir::State::Lists=$APTDIR/lists"
         -o APT::Sandbox::User=root)

if ! ls "$QSRC"/qemu_*.dsc >/dev/null 2>&1; then
	gen_sources > "$APTDIR/sources.list.new"
	[ -s "$APTDIR/sources.list.new" ] || die "no deb entries found in /etc/apt/sources.list{,.d/}"
	mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
	log "apt-get update (private lists in $APTDIR)"
	apt-get "${APTOPTS[@]}" update -qq >&2 || die "apt-get update (deb-src) failed"
	rm -rf "$QSRC.partial"; mkdir -p "$QSRC.partial"
	log "apt-get source qemu (download only)"
	(cd "$QSRC.partial" && apt-get "${APTOPTS[@]}" source --download-only -qq qemu) >&2 ||
		die "apt-get source qemu failed"
	rm -rf "$QSRC"; mv "$QSRC.partial" "$QSRC"
fi
DSC=$(ls "$QSRC"/qemu_*.dsc | sort -V | tail -n1)

# ---- pristine tree: upstream tarball + Debian's debian/patches ------------
if [ "$(cat "$QPRISTINE/.fphint-dsc" 2>/dev/null)" != "$(basename "$DSC")" ]; then
	log "unpacking $(basename "$DSC") with Debian's patches"
	rm -rf "$QPRISTINE" "$BUILD/qemu-unpack"
	dpkg-source --no-check -x "$DSC" "$BUILD/qemu-unpack" >/dev/null ||
		die "dpkg-source -x failed"
	# dpkg-source applies debian/patches (3.0 quilt); make sure it did.
	if [ -f "$BUILD/qemu-unpack/debian/patches/series" ] && [ ! -d "$BUILD/qemu-unpack/.pc" ]; then
		while read -r p _; do
			case "$p" in ''|'#'*) continue;; esac
			patch -d "$BUILD/qemu-unpack" -p1 -s --no-backup-if-mismatch \
				< "$BUILD/qemu-unpack/debian/patches/$p" || die "Debian patch $p does not apply"
		done < "$BUILD/qemu-unpack/debian/patches/series"
	fi
	# The dfsg tarball has no EDK2 blobs: never try to unpack them.
	sed -i "s/^\( *unpack_edk2_blobs = \)bzip2.found()/\1false  # fphint: dfsg tarball, no blobs/" \
		"$BUILD/qemu-unpack/meson.build"
	grep -q 'unpack_edk2_blobs = false  # fphint' "$BUILD/qemu-unpack/meson.build" ||
		die "meson.build: cannot turn unpack_edk2_blobs off"
	basename "$DSC" > "$BUILD/qemu-unpack/.fphint-dsc"
	mv "$BUILD/qemu-unpack" "$QPRISTINE"
fi

# ---- our series: a changed series means a fresh copy (mtimes kept) --------
series_sum=$( (cd "$TOP/qemu/patches" && cat series $(grep -v '^#' series)) | sha1sum | cut -d' ' -f1)
if [ "$(cat "$QTREE/.fphint-series" 2>/dev/null)" != "$series_sum" ]; then
	log "preparing QEMU tree (patch series changed)"
	rm -rf "$QTREE"
	cp -a "$QPRISTINE" "$QTREE"
	while read -r p; do
		case "$p" in ''|'#'*) continue;; esac
		patch -d "$QTREE" -p1 -s --no-backup-if-mismatch < "$TOP/qemu/patches/$p" ||
			die "qemu patch $p does not apply"
	done < "$TOP/qemu/patches/series"
	echo "$series_sum" > "$QTREE/.fphint-series"
fi

# ---- configure once per tree/options, then ninja (incremental) ------------
CONF=(--target-list=x86_64-softmmu --without-default-features --enable-kvm
      --enable-tcg --enable-fdt=system --disable-docs --disable-install-blobs
      "--cc=ccache gcc" --disable-werror)
confsum=$(printf '%s\n' "${CONF[@]}" | sha1sum | cut -d' ' -f1)
if [ "$(cat "$QOUT/.fphint-config" 2>/dev/null)" != "$confsum" ] || [ ! -f "$QOUT/build.ninja" ]; then
	log "configuring QEMU: ${CONF[*]}"
	rm -rf "$QOUT"; mkdir -p "$QOUT"
	if ! (cd "$QOUT" && "${NICE[@]}" "$QTREE/configure" "${CONF[@]}") > "$BUILD/qemu-configure.log" 2>&1; then
		tail -30 "$BUILD/qemu-configure.log" >&2
		die "QEMU configure failed (full log: $BUILD/qemu-configure.log)"
	fi
	echo "$confsum" > "$QOUT/.fphint-config"
fi
log "building qemu-system-x86_64 ($(nproc) jobs, ccache, nice)"
if ! "${NICE[@]}" ninja -C "$QOUT" -j"$(nproc)" qemu-system-x86_64 > "$BUILD/qemu-build.log" 2>&1; then
	grep -E 'error' -A3 "$BUILD/qemu-build.log" | head -60 >&2
	die "QEMU build failed (full log: $BUILD/qemu-build.log)"
fi
log "QEMU ready: $QOUT/qemu-system-x86_64"
