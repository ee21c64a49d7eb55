# Shared paths and helpers for fphint scripts.  Sourced, never run.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FPHINT_BUILD:-$TOP/build}
KSRC_TAR=/usr/src/linux-source-6.1.tar.xz
KPRISTINE=$BUILD/linux-pristine
KTREE=$BUILD/linux
KOUT=$BUILD/kernel-out
VMLINUX=$KOUT/vmlinux
INITRD=$BUILD/initrd.gz
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/fphint-ccache}
log() { printf '[fphint] %s\n' "$*" >&2; }
die() { printf '[fphint] error: %s\n' "$*" >&2; exit 1; }
