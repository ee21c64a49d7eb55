#!/bin/bash
# The guest side as a git format-patch series against v6.1, in build/series/:
# a cover letter, the new files split by stage, and kernel/patches/, in an
# order in which the tree builds at every step.
#
#   scripts/series.sh            write build/series/*.patch
#   scripts/series.sh --verify   also: git am the series onto a clean 6.1
#                                tree and build it (tinyconfig +
#                                fphint-guest.config, ccache) after every patch
#   scripts/series.sh --check    also: git am onto a clean tree, no builds
#
# The scratch repository (build/series-git) starts from build/linux-pristine,
# which scripts/kernel-build.sh creates; its v6.1 commit is kept between runs.
source "$(dirname "$0")/lib.sh"
MODE=${1:-}
REPO=$BUILD/series-git
OUT=$BUILD/series
K=$TOP/kernel
F=mm/fphint
[ -f "$KPRISTINE/Makefile" ] || die "$KPRISTINE missing: run scripts/kernel-build.sh once"

export GIT_AUTHOR_NAME="fphint" GIT_AUTHOR_EMAIL="fphint@localhost"
export GIT_COMMITTER_NAME="fphint" GIT_COMMITTER_EMAIL="fphint@localhost"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
# gc.auto=0: a background "git gc --auto" repacking under a running clone
# made it fail ("failed to copy file to .../objects/...").
g() { git -C "$REPO" -c core.autocrlf=false -c commit.gpgsign=false -c gc.auto=0 "$@"; }

# ---- the v6.1 base ------------------------------------------------------
if ! g rev-parse -q --verify refs/tags/v6.1 >/dev/null 2>&1; then
	log "series: committing the pristine 6.1 tree (once)"
	rm -rf "$REPO"
	cp -a "$KPRISTINE" "$REPO"
	git init -q "$REPO"
	g add -A -f .
	g commit -q -m "Linux 6.1 (Debian linux-source-6.1)"
	g tag v6.1
fi
g checkout -q -f -B series v6.1
g clean -q -fdx

# ---- steps ----------------------------------------------------------------
# Kconfig as kernel/mm/fphint/Kconfig with only the named config blocks.
kconfig() {
	awk -v want=" $* " '
		/^config / { keep = index(want, " " $2 " ") > 0 }
		/^#/ && NR == 1 { print; next }
		keep { print }' "$K/$F/Kconfig" | cat -s | sed '${/^$/d}' > "$REPO/$F/Kconfig"
}
# Makefile as kernel/mm/fphint/Makefile, with the objects whose source is
# not in the tree yet left out (a line left empty goes).
makefile() {
	if [ "${1:-}" = final ]; then
		cp "$K/$F/Makefile" "$REPO/$F/Makefile"
		return
	fi
	sed -e ':a;/\\$/{N;s/\\\n[[:space:]]*/ /;ba}' "$K/$F/Makefile" | while IFS= read -r line; do
		case "$line" in
		obj-*+=*)
			lhs=${line%%+=*} objs=""
			for o in ${line#*+=}; do
				case "$o" in
				*.o) [ -f "$REPO/$F/${o%.o}.c" ] && objs="$objs $o";;
				*) objs="$objs $o";;
				esac
			done
			[ -n "$objs" ] && echo "${lhs}+=${objs}";;
		*) printf '%s\n' "$line";;
		esac
	done > "$REPO/$F/Makefile"
}
# add FILE...: copy from kernel/ (paths as in the tree).
add() {
	local f
	for f in "$@"; do
		mkdir -p "$REPO/$(dirname "$f")"
		cp "$K/$f" "$REPO/$f"
	done
}
commit() {
	g add -A -f .  # Debian's .gitignore ignores the whole top level
	g commit -q -F -
}
# A patch of kernel/patches/: its Subject and description, then the diff.
kpatch() {
	local p=$K/patches/$1
	patch -d "$REPO" -p1 -s --no-backup-if-mismatch < "$p" || die "$1 does not apply"
	sed -n '/^---$/q;p' "$p" | sed '1s/^Subject: \(\[PATCH[^]]*\] \)\?//' | commit
}

add include/uapi/linux/fphint.h include/uapi/linux/fphint_hypercall.h include/linux/fphint.h
commit <<'EOF'
fphint: uapi headers and the kernel interface

The names, ranges and defaults of fphint's tunables, its counters and its
generic netlink family are shared with user space (fphintctl), so they go
in a uapi header, as X-macro lists that the kernel, the tool and the
netlink spec check expand; the report hypercall's ABI (number, entry
format, outcomes) is shared with the host the same way, in its own
header.  include/linux/fphint.h holds what the page
allocator and reporting devices call: the free path hooks (static
branches, nothing when fphint is off) and device registration.
EOF

add $F/fphint.h $F/core.c $F/batch.c $F/capture-percpu.c $F/capture-scan.c \
	$F/selection-common.c $F/throttle-math.c $F/hostcheck.c $F/sysfs.c $F/netlink.c
kconfig FPHINT
makefile
commit <<'EOF'
mm/fphint: core, batch mechanics, capture, sysfs and netlink

The stock page reporting code walks the free lists on a timer and never
learns what was freed: 4 KiB holes are never reported and a freed
gigabyte leaves the guest in 256 MiB steps.  fphint records what the
allocator frees and reports that, through stages registered by name.

This adds the core (stage registry, all-or-nothing configuration, the
worker and its churn backoff, ownership of PageReported), the batch
mechanics every selection uses (isolate under zone->lock, report with the
lock dropped, put back in aligned pieces, mark what the host discarded),
both capture stages (per-CPU region buffers with quiet-region filtering,
and the free-list scan), the host discard check, and the sysfs and
generic netlink interfaces the core reports configuration changes to.
Selections, throttles and transports follow one per patch; until a stage
of each kind is registered fphint_init() declines to enable.
EOF

kpatch 0001-mm-build-fphint.patch

add $F/selection-zone-sort.c; makefile
commit <<'EOF'
mm/fphint: selection zone-sort

Sorting a chunk of captured regions by pfn groups it by zone, drops
repeats and lets one zone->lock hold isolate a whole batch; the walk lets
go of the lock between regions when an allocation waits for it.  The
default selection.
EOF

add $F/selection-fifo.c; makefile
commit <<'EOF'
mm/fphint: selection fifo

Entries in capture order, zone->lock per entry, no de-duplication: the
behaviour of the earlier free page hinting series, kept to measure what
sorting buys.
EOF

add $F/throttle-watermark.c; makefile
commit <<'EOF'
mm/fphint: throttle watermark

Hinting must not take free memory away from a zone near its high
watermark or from a guest short of memory: leave such a zone alone, stop
everywhere below low_mem_pct of MemAvailable, and resume with hysteresis.
The default throttle.
EOF

add $F/throttle-ratelimit.c; makefile
commit <<'EOF'
mm/fphint: throttle ratelimit

Bound the reporting rate (token bucket, one second of burst) for hosts
that pay per discard, on top of the watermark rules.
EOF

add $F/throttle-none.c; makefile
commit <<'EOF'
mm/fphint: throttle none

No limit beyond the min watermark every isolation keeps, for measuring.
EOF

add $F/transport-null.c; makefile
commit <<'EOF'
mm/fphint: transport null

A transport that succeeds without telling anyone runs the whole pipeline
in a guest without a reporting device; what goes through it is put back
unmarked.  With it every stage kind has its default and fphint enables.
EOF

add $F/transport-virtio.c; makefile
commit <<'EOF'
mm/fphint: the reporting device transport

virtio-balloon's free page reporting queue becomes a transport: a device
registers through fphint_register_reporting_dev() instead of
page_reporting_register(), so unmodified hosts discard what fphint
reports.  Until fphint is first enabled (fphint.enabled=0) stock
page_reporting drives the device; the first enable takes it over.
EOF

add $F/host_policy.c; makefile
commit <<'EOF'
mm/fphint: configuration from the host

A host that wants to tune hinting should not need an agent in the guest:
a device hands over "key=value" text, applied all or nothing like a sysfs
write, unless the guest admin turned host_policy off.
EOF

add include/uapi/linux/fphint_hypercall.h $F/transport-hypercall.c
kconfig FPHINT FPHINT_HYPERCALL; makefile
commit <<'EOF'
mm/fphint: transport hypercall

A report through the virtio queue is acknowledged as a whole; the guest
cannot tell what the host really discarded.  The synchronous report
hypercall of include/uapi/linux/fphint_hypercall.h carries up to 512
ranges in a per-CPU report page (one PTE-like word per range) and comes
back with an outcome per range, so only what the host discarded is
marked reported.  Always listed; selectable once a virtio-balloon
device negotiates VIRTIO_BALLOON_F_FPHINT_HYPERCALL, -ENODEV before.
EOF

add $F/fault.c; kconfig FPHINT FPHINT_HYPERCALL FPHINT_FAULT_INJECTION; makefile
commit <<'EOF'
mm/fphint: fault injection

Every isolated page must come back on every error path.  Debugfs knobs
make every Nth report fail, time out or be acknowledged late, hold the
churn backoff at a level, and fphint.fail_init=N fails a step of
initialisation, so tests can check that.  Behind its own Kconfig option,
as the kernel's FAULT_INJECTION knobs are.
EOF

for t in "$K"/$F/tests/*-kunit.h; do add "$F/tests/$(basename "$t")"; done
kconfig FPHINT FPHINT_HYPERCALL FPHINT_KUNIT_TEST FPHINT_FAULT_INJECTION; makefile final
cmp -s "$K/$F/Kconfig" "$REPO/$F/Kconfig" || die "the Kconfig split lost something"
commit <<'EOF'
mm/fphint: KUnit tests

The arithmetic that decides when to back off and how ranges are split
and merged is easy to get subtly wrong and hard to see from outside:
test it at boot, each test file next to the code it tests.
EOF

while read -r p; do
	case "$p" in ''|'#'*|0001-*) continue;; esac
	kpatch "$p"
done < "$K/patches/series"

# The series must end where kernel-build.sh's tree is.
for f in $(cd "$K" && find include mm -type f); do
	cmp -s "$K/$f" "$REPO/$f" || die "series: $f differs from kernel/$f"
done

# ---- the patches ---------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
n=$(g rev-list --count v6.1..series)
g format-patch -q --cover-letter -o "$OUT" v6.1..series
python3 - "$OUT/0000-cover-letter.patch" <<'PY'
import sys, re
p = sys.argv[1]
s = open(p).read()
s = s.replace("*** SUBJECT HERE ***", "fphint: guest free page hinting framework")
blurb = """A guest that frees memory keeps it pinned on the host until the host
learns it is free.  The stock free page reporting code (mm/page_reporting.c)
walks the free lists 2 s after the first free of a pageblock or more,
reporting at most 1/16 of each list per pass: a freed gigabyte leaves QEMU
in 256 MiB steps (t90 about 7 s under TCG) and memory freed in pieces
below 2 MiB never comes back.

fphint keeps what is right in that design (the hook after merging,
isolation while the host works, PageReported, the standard virtio
reporting queue, so unmodified QEMU, Cloud Hypervisor, crosvm and
Firecracker discard) and changes what is reported and when: the free
path records the 4 MiB region each merged block lies in, a worker
reports regions once they stayed quiet for a delay, merged into ranges of
up to 128 MiB, and backs off when reported memory is reused at once or
when the host acknowledges reports without discarding them.  Capture,
selection, transport and throttle are stages registered by name and
switchable at runtime in /sys/kernel/mm/fphint/ and over generic netlink.

Patch 1 adds the uapi header and the hooks' interface, 2-3 the core with
the batch mechanics, both captures, sysfs and netlink, and the mm glue;
4-10 one selection, throttle or transport each; 11 host-set policy; 12
fault injection; 13 KUnit; then the page allocator hooks and the
virtio_balloon changes.  The tree builds at every step.  Documentation:
Documentation/mm/fphint.rst (outside this series).
"""
s = s.replace("*** BLURB HERE ***", blurb.strip())
open(p, "w").write(s)
PY
log "series: $n patches and a cover letter in $OUT"

# ---- checks ----------------------------------------------------------------
[ -z "$MODE" ] && exit 0
[ "$MODE" = --check ] || [ "$MODE" = --verify ] || die "usage: $0 [--check|--verify]"
CLEAN=$BUILD/series-am
rm -rf "$CLEAN"
git clone -q --no-checkout "$REPO" "$CLEAN"
git -C "$CLEAN" -c advice.detachedHead=false checkout -q v6.1
git -C "$CLEAN" -c gc.auto=0 am -q $(ls "$OUT"/*.patch | grep -v 0000-cover-letter) ||
	die "series: git am failed"
[ "$(git -C "$CLEAN" rev-parse HEAD^{tree})" = "$(g rev-parse series^{tree})" ] ||
	die "series: git am result differs from the scratch repository"
log "series: git am applies all $n patches; result identical"
[ "$MODE" = --verify ] || exit 0

KO=$BUILD/series-out
mkdir -p "$KO"
CONFIGS="$TOP/kernel/configs/fphint-guest.config"
start=$SECONDS
i=0
for c in $(git -C "$CLEAN" rev-list --reverse v6.1..HEAD); do
	i=$((i + 1))
	git -C "$CLEAN" -c advice.detachedHead=false checkout -q "$c"
	t=$SECONDS
	make -s -C "$CLEAN" O="$KO" tinyconfig >/dev/null
	(cd "$CLEAN" && scripts/kconfig/merge_config.sh -m -O "$KO" "$KO/.config" \
		kernel/configs/kvm_guest.config $CONFIGS >/dev/null 2>&1)
	make -s -C "$CLEAN" O="$KO" olddefconfig >/dev/null 2>&1
	if ! nice -n 10 make -s -C "$CLEAN" O="$KO" -j"$(nproc)" CC="ccache gcc" vmlinux \
		> "$KO/build-$i.log" 2>&1; then
		grep -E 'error|Error' -A3 "$KO/build-$i.log" | head -30 >&2
		die "series: build fails after patch $i ($(git -C "$CLEAN" log -1 --format=%s))"
	fi
	fp=$(grep -c '^CONFIG_FPHINT=y' "$KO/.config" || true)
	log "series: patch $i/$n builds ($((SECONDS - t)) s, CONFIG_FPHINT $([ "$fp" = 1 ] && echo on || echo absent)): $(git -C "$CLEAN" log -1 --format=%s)"
done
log "series: every step builds ($((SECONDS - start)) s)"
