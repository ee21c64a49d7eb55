#!/bin/bash
# Run the 6.1 tree's scripts/checkpatch.pl over everything fphint adds to
# the kernel: the sources under kernel/ (--no-tree -f) and the diffs in
# kernel/patches/ (--no-signoff).  Prints checkpatch's findings, one
# "total:" line per file with something to say, and exits 1 if any.
source "$(dirname "$0")/lib.sh"
CHECKPATCH=$KPRISTINE/scripts/checkpatch.pl
[ -f "$CHECKPATCH" ] || die "$CHECKPATCH missing: run scripts/kernel-build.sh once"
# From kernel/, not the top: in a git checkout's top directory checkpatch
# reads a whole patch file as commit message.
cd "$TOP/kernel"
bad=0 n=0
run() {
	local out
	n=$((n + 1))
	out=$(perl "$CHECKPATCH" --no-tree --quiet --terse --show-types "$@" 2>&1) && \
		! grep -qv '^total: 0 errors, 0 warnings' <<<"$out" && return 0
	printf '%s\n' "$out" | sed '/^total:/!s|^|kernel/|'  # paths as from the top
	bad=$((bad + 1))
}
while IFS= read -r f; do
	run -f "$f"
done < <(find . -type f \( -name '*.[ch]' -o -name Kconfig -o -name Makefile \) | sed 's|^\./||' | sort)
while IFS= read -r p; do
	case "$p" in ''|'#'*) continue;; esac
	run --no-signoff "patches/$p"
done < patches/series
echo "checkpatch: $n files, $bad with findings"
[ "$bad" -eq 0 ]
