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
