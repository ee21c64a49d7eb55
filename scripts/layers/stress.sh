# Layer "stress" (sourced by scripts/initramfs-layer.sh): Debian's stress-ng
# and the shared libraries it links, unpacked from the .debs (downloaded once
# into build/debs, never installed on the host).  The unpacked packages are
# kept in build/stress-sysroot and only unpacked again when the stress-ng
# .deb changes, so a re-run takes a second or two.
STRESS_DEB=$(fetch_deb stress-ng)
STRESS_SYSROOT=$BUILD/stress-sysroot
if [ "$(cat "$STRESS_SYSROOT/.stamp" 2>/dev/null)" != "$(basename "$STRESS_DEB")" ]; then
	rm -rf "$STRESS_SYSROOT"
	mkdir -p "$STRESS_SYSROOT"
	extract_with_deps stress-ng "$STRESS_SYSROOT"
	basename "$STRESS_DEB" > "$STRESS_SYSROOT/.stamp"
fi
copy_with_libs "$STRESS_SYSROOT/usr/bin/stress-ng" "$LROOT" "$STRESS_SYSROOT"
log "stress-ng: $(basename "$STRESS_DEB")"
