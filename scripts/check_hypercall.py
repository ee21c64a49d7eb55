"""make check suite hypercall: the transport "hypercall" (issue 14),
guest side, against what the host offers.

  * stock QEMU (its balloon has no feature bit 22): the kselftest
    selftests/fphint/fphint_hypercall_test.c (scenario-hcguest) selects the transport and
    gets -ENODEV through sysfs and netlink (extack message), nothing
    changed, the raw debugfs call refused; its bad-input tests skip;
  * the patched QEMU (make qemu), when its balloon has the property
    fphint-hypercall (qemu/patches/0003-*): the same kselftest runs its
    bad-input sweep (count, flags, report page, reserved bits, MMIO,
    overlap, valid entries, memory outside the ranges intact); then the
    guest selects hypercall and frees 640 MiB: QEMU's RSS must drop by
    >= 90 % within 10 s, the guest's hypercalls and host_discarded_pages
    must move and agree with the balloon's report-hypercalls and
    discarded bytes read over QMP while the guest holds still, nothing
    may stay isolated, and the console must be clean; every 2nd report
    failing (fault injection) is counted in report_errors with nothing
    left isolated; device_del of the balloon then takes the guest back
    to transport null.

Without a patched QEMU that has the property, that half is skipped.
About 1.5 minutes under TCG (two boots of a 2 GiB guest).
"""
import os
import subprocess

from checklib import (GIB, burst_checks, check_console, curves, figures, report, tagged, vm,
                      wait_seen)

PROFILE = "hypercall"  # vm.PROFILES: the balloon with fphint-hypercall=on
# The patched balloon's counters of the call (QOM, read on balloon0).
HC_CALLS = "report-hypercalls"
# Discards through the call count in the queue's counters too (0003-*).
HC_BYTES = ("report-bytes-discarded",)
BURST = 640 << 20


def patched_offers():
    """None when the patched QEMU's balloon has fphint-hypercall, else why not."""
    try:
        exe = vm.qemu_argv("patched")
    except RuntimeError as e:
        return str(e)
    try:
        out = subprocess.run(exe + ["-device", "virtio-balloon-pci,help"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"{exe[0]}: {e}"
    if "fphint-hypercall" not in out:
        return "the patched QEMU's balloon has no fphint-hypercall property (qemu/patches/0003-* missing)"
    return None


def read_host(g):
    """{calls, bytes, bytes_name} from the balloon over QMP, or None."""
    names = [HC_CALLS] + list(HC_BYTES)
    vals = vm.qmp_batch(g, [("qom-get", {"path": vm.BALLOON, "property": p}) for p in names])
    if isinstance(vals[0], Exception):
        return None
    for name, v in zip(HC_BYTES, vals[1:]):
        if not isinstance(v, Exception):
            return {"calls": vals[0], "bytes": v, "bytes_name": name}
    return None


def kselftest_results(g, block, label):
    """The TAP results of @block, each reported under @label."""
    res = g.tap_blocks().get(block)
    report(res is not None, f"{label}: kselftest results present")
    out = []
    for r in res or []:
        # 6.1's harness names no skipped test: "ok 2 # SKIP why" reads as
        # the title "# SKIP why".
        if r.skip is None and r.title.startswith("# SKIP"):
            r = r._replace(title="a test", skip=r.title[len("# SKIP"):].strip())
        report(r.ok, f"{label}: {r.title}", None if r.skip is None else r.skip or "skipped")
        out.append(r)
    return out


def kselftest(g, qemu):
    return kselftest_results(g, "hypercall", f"hypercall ({qemu})")


def suite_hypercall(accel, logdir):
    # 1. Stock QEMU, no bit 22: -ENODEV, the sweep skipped.
    with open(os.path.join(logdir, "hypercall-stock.log"), "w") as log:
        g = vm.boot("hcguest", accel, 300, log=log)
    report(g.seen("@@DONE rc=0"), "hypercall (stock QEMU): guest ran to the end")
    res = kselftest(g, "stock QEMU")
    enodev = next((r for r in res if r.title.endswith("enodev_without_host")), None)
    report(bool(enodev) and enodev.ok and enodev.skip is None,
           "hypercall (stock QEMU): selecting hypercall without bit 22 gives -ENODEV, nothing changed")
    skipped = sum(r.skip is not None for r in res)
    report(skipped == 5, f"hypercall (stock QEMU): the bad-input sweep skips without the host's offer "
                         f"({skipped} of 5 skipped)")
    check_console(g, "hypercall (stock QEMU)")

    # 2. The patched QEMU with fphint-hypercall=on: the sweep and a burst.
    why = patched_offers()
    if why:
        report(True, "hypercall (patched QEMU): bad-input sweep and 640 MiB end to end", skip=why)
        return
    with open(os.path.join(logdir, "hypercall-patched.log"), "w") as log:
        g = vm.Guest("hcguest", accel, log=log, qmp=True, qemu="patched", profile=PROFILE).start()
        host = {}
        try:
            for turn in ("before", "after"):
                if wait_seen(g, f"@@HOST-TURN {turn}", 600):
                    host[turn] = read_host(g)
            if wait_seen(g, "@@HOST-TURN unplug", 120):
                vm.qmp(g, "device_del", id="balloon0")
        finally:
            g.wait(600)
    g.save_rss(os.path.join(logdir, "hypercall-patched-rss.csv"))
    report(g.seen("@@DONE rc=0"), "hypercall (patched QEMU): guest ran to the end")
    report(g.seen("@@HC offered=1"), "hypercall (patched QEMU): the balloon negotiated bit 22")
    res = kselftest(g, "patched QEMU")
    hc = [r for r in res if r.title.startswith("hc.")]
    report(len(hc) == 5 and all(r.ok and r.skip is None for r in hc),
           f"hypercall (patched QEMU): the whole bad-input sweep ran and passed ({len(hc)} of 5)")
    cfg = [t.split("=", 1)[1] for _, t in g.lines if t.startswith("@@CONFIG transport=")]
    report(cfg[:1] == ["hypercall"], f"hypercall (patched QEMU): transport hypercall selected ({cfg})")
    pts = burst_checks(g, "hypercall", 0.90, 10, "hypercall (patched QEMU): transport hypercall")
    curves["fphint (transport hypercall, patched QEMU)"] = pts

    def around(turn):
        t0 = next((t for t, x in g.lines if x == f"@@HOST-TURN {turn}"), None)
        t1 = next((t for t, x in g.lines if x == f"@@HOST-DONE {turn}"), None)
        pre = vm.sample_before(g.stats(), t0) if t0 is not None else None
        post = next((s for t, s in g.stats() if t1 is not None and t > t1), None)
        return pre, post
    (b0, b1), (a0, a1) = around("before"), around("after")
    h0, h1 = host.get("before"), host.get("after")
    if not (b0 and b1 and a0 and a1 and h0 and h1):
        report(False, f"hypercall (patched QEMU): guest stats and host counters at both turns ({host})")
    else:
        quiet = b0["hypercalls"] == b1["hypercalls"] and a0["hypercalls"] == a1["hypercalls"]
        report(quiet, "hypercall (patched QEMU): no call while the host read its counters")
        gd = vm.counter_delta(b0, a0)
        calls, disc = h1["calls"] - h0["calls"], h1["bytes"] - h0["bytes"]
        gbytes = gd["host_discarded_pages"] * 4096
        report(gd["hypercalls"] > 0 and gbytes >= 0.9 * BURST,
               f"hypercall (patched QEMU): hypercalls +{gd['hypercalls']}, host_discarded_pages "
               f"+{gd['host_discarded_pages']} ({gbytes / GIB:.2f} GiB of {BURST / GIB:.2f})")
        report(calls == gd["hypercalls"],
               f"hypercall (patched QEMU): host {HC_CALLS} +{calls} == guest hypercalls +{gd['hypercalls']}")
        report(disc == gbytes,
               f"hypercall (patched QEMU): host {h1['bytes_name']} +{disc} == guest "
               f"host_discarded_pages +{gd['host_discarded_pages']} x 4096")
        report(gd["host_skipped_pages"] == 0 and gd["report_errors"] == 0,
               f"hypercall (patched QEMU): normal RAM: nothing skipped (+{gd['host_skipped_pages']} pages), "
               f"no report error (+{gd['report_errors']})")
        figures["transport hypercall, 640 MiB burst"] = (
            f"{gd['hypercalls']} calls, {gbytes >> 20} MiB discarded, host {calls} calls, "
            f"{disc >> 20} MiB")
    hf = tagged(g, "HCFAULT")
    report(int(hf.get("errors", 0)) > 0 and hf.get("isolated") == "0",
           f"hypercall (patched QEMU): every 2nd report failing: report_errors +{hf.get('errors')}, "
           f"isolated_now_pages {hf.get('isolated')} after")
    report(cfg[-1:] == ["null"] and len(cfg) >= 3,
           f"hypercall (patched QEMU): balloon unplugged while in use: back to null ({cfg})")
    last = g.stats()[-1][1] if g.stats() else {}
    report(last.get("isolated_now_pages") == 0,
           f"hypercall (patched QEMU): nothing isolated at the end ({last.get('isolated_now_pages')})")
    check_console(g, "hypercall (patched QEMU)")
