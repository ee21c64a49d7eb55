"""What every make check suite reports with: the TAP lines and the
closing figures, and the checks and waits the suites share.

check.py holds the table of suites; a suite may live in a module of its
own and import from here (one `results`, whichever module reports).
"""
import os
import sys
import time

# Tests boot the debug kernel (DEBUG_VM, lockdep, atomic-sleep checks) unless
# FPHINT_VMLINUX names another; bench-quick's guests inherit the choice.
_TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBUG_VMLINUX = os.path.join(os.environ.get("FPHINT_BUILD", os.path.join(_TOP, "build")),
                             "debug", "kernel-out", "vmlinux")
os.environ.setdefault("FPHINT_VMLINUX", DEBUG_VMLINUX)
sys.path.insert(0, os.path.join(_TOP, "qemu"))
import fphint_vm as vm  # noqa: E402

GIB = 1 << 30
results = []   # (ok, name, skipped)
figures = {}   # reliability figures for the closing summary
curves = {}    # {name: burst curve}: t90 / t95 in the closing summary
# TAINT_TEST: KUnit ran at boot.  Any other bit (TAINT_BAD_PAGE, WARN...) fails.
TAINT_TEST = 1 << 18


def budget(base, **secs):
    """Boot timeout: @base plus, per FPHINT_<NAME>_SECS set (make
    check-long), that many seconds times the given factor."""
    return base + sum(int(os.environ.get(f"FPHINT_{k.upper()}_SECS", "0") or 0) * f
                      for k, f in secs.items())


def report(ok, name, skip=None):
    results.append((ok, name, skip))
    line = f"{'ok' if ok else 'not ok'} {len(results)} - {name}"
    if skip:
        line += f" # SKIP {skip}"
    print(line, flush=True)


def report_tap(prefix, res):
    """Report a vm.TapResult as "PREFIX: title" (a skip without a reason
    as "skipped")."""
    report(res.ok, f"{prefix}: {res.title}",
           None if res.skip is None else res.skip or "skipped")


def parse_tap(g):
    """Report every result of the guest's TAP blocks, each under its block's
    name; the names of the blocks that ran."""
    blocks = g.tap_blocks()
    for name, res in blocks.items():
        for r in res:
            report_tap(name, r)
    return set(blocks)


def tap_block(g, name):
    """{test title: "pass" | "fail" | "skip: why"} of TAP block @name."""
    return {r.title: ("skip: " + r.skip if r.skip is not None else "pass" if r.ok else "fail")
            for r in g.tap_blocks().get(name, [])}


def check_console(g, suite, allow_oom=False):
    problems = g.console_problems(allow_oom=allow_oom)
    report(not problems, f"{suite}: no kernel warning, BUG or call trace on the console")
    for p in problems[:10]:
        print(f"#   {p}")


def burst_checks(g, phase, min_frac, within, label):
    got = vm.burst_curve(g, phase)
    if not got:
        report(False, f"{label}: burst events found on the console")
        return None
    pts, freed_at, base, size = got
    frac = vm.frac_at(pts, within)
    report(frac >= min_frac if min_frac > 0 else True,
           f"{label}: {frac:.1%} of {size / GIB:.2g} GiB left QEMU RSS within {within} s "
           f"(need >= {min_frac:.0%})")
    return pts


def tagged_line(text):
    return dict(kv.split("=", 1) for kv in text.split()[1:] if "=" in kv)


def tagged(g, tag):
    """{key: value} of every "@@TAG k=v ..." line, later lines overriding."""
    out = {}
    for _, text in g.lines:
        if text.startswith(f"@@{tag} "):
            out.update(tagged_line(text))
    return out


def last_word(g, tag):
    """The value of the last "@@TAG VALUE" line, or "missing"."""
    words = [t.split()[1] for _, t in g.lines if t.startswith(f"@@{tag} ") and len(t.split()) > 1]
    return words[-1] if words else "missing"


def wait_seen(g, prefix, timeout):
    """Wait until the running guest @g printed a line starting with @prefix."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and g.proc.poll() is None:
        if g.seen(prefix):
            return True
        time.sleep(0.1)
    return g.seen(prefix)


def hugetlb_backing(mib):
    """QEMU arguments that put guest RAM on hugetlbfs, and an undo function;
    (None, reason) when this host cannot reserve the pages."""
    import subprocess
    import tempfile
    nr = "/proc/sys/vm/nr_hugepages"
    try:
        before = int(open(nr).read())
        want = before + mib // 2 + 8
        open(nr, "w").write(str(want))
        got = int(open(nr).read())
    except (OSError, ValueError) as e:
        return None, f"cannot reserve huge pages: {e}"
    mnt = tempfile.mkdtemp(prefix="fphint-hugetlbfs-")

    def undo():
        subprocess.run(["umount", mnt], capture_output=True)
        os.rmdir(mnt)
        open(nr, "w").write(str(before))
    if got < want or subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", mnt],
                                    capture_output=True).returncode:
        undo()
        return None, f"only {got - before} of {want - before} huge pages, or no hugetlbfs"
    # share=on: QEMU punches aligned ranges out of the file, so whole huge
    # pages do come back.  (share=off keeps every page: QEMU punches the
    # file but never drops the private copy.)
    args = ["-object", f"memory-backend-file,id=ram0,size={mib}M,mem-path={mnt},share=on",
            "-machine", "memory-backend=ram0"]
    return (args, undo), None


def on_hugetlbfs(mib, label, run):
    """run(args) with guest RAM on hugetlbfs (args: the QEMU arguments),
    the huge pages given back after; a skip reported as @label when this
    host cannot reserve them.  What run returned, None when skipped."""
    backing, why = hugetlb_backing(mib)
    if backing is None:
        report(True, label, skip=why)
        return None
    args, undo = backing
    try:
        return run(args)
    finally:
        undo()


def host_turn_stats(g, turn):
    """Guest stats just before "@@HOST-TURN TURN" and just after
    "@@HOST-DONE TURN" (scenario-hostcounters' host_turn): (None, None)
    unless both are there."""
    t0 = next((t for t, x in g.lines if x == f"@@HOST-TURN {turn}"), None)
    t1 = next((t for t, x in g.lines if x == f"@@HOST-DONE {turn}"), None)
    pre = vm.sample_before(g.stats(), t0) if t0 is not None else None
    post = next((s for t, s in g.stats() if t1 is not None and t > t1), None)
    return (pre, post) if pre and post else (None, None)


def runtime_checks(g, label):
    report(g.seen("@@DONE rc=0"), f"{label}: guest scenario ran to the end")
    tainted = last_word(g, "TAINTED")
    report(tainted.isdigit() and int(tainted) & ~TAINT_TEST == 0,
           f"{label}: kernel not tainted beyond KUnit's TAINT_TEST (/proc/sys/kernel/tainted {tainted})")
    check_console(g, label)


def guest_sh(g, script, timeout=30):
    """Run @script with the guest's /bin/sh through the guest agent:
    (exit code, stdout), (None, "") when it did not end in time."""
    import base64
    pid = vm.qga(g, "guest-exec", path="/bin/sh", arg=["-c", script],
                 capture_output=True, _timeout=60)["pid"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = vm.qga(g, "guest-exec-status", pid=pid)
        if st.get("exited"):
            return st.get("exitcode"), base64.b64decode(st.get("out-data", "")).decode()
        time.sleep(0.1)
    return None, ""


def release_guest(g, timeout=120):
    """Let a guest that waits for the host's turn (/tmp/host-done) finish."""
    try:
        guest_sh(g, "touch /tmp/host-done")
    except (OSError, RuntimeError):
        pass
    g.wait(timeout)


def run_tap(prefix, argv):
    """Run @argv, a command printing TAP, and report each of its results as
    "PREFIX: title": (exit status, number of results, its stdout + stderr)."""
    import subprocess
    p = subprocess.run(argv, capture_output=True, text=True)
    n = 0
    for line in p.stdout.splitlines():
        res = vm.tap_result(line)
        if res:
            n += 1
            report_tap(prefix, res)
    return p.returncode, n, p.stdout + p.stderr
