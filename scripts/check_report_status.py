"""make check suite report-status: per-range outcomes of free page reports
on the virtio queue (VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS, experimental
bit 21; qemu/patches/0004-*, kernel/patches/0007-*).

One 2 GiB guest per case runs scenario-reportstatus (1 GiB freed between
two quiet turns at which the host reads the balloon's counters over QMP):

  * patched QEMU, anonymous RAM (the property's default, on): bit 21
    negotiated (guest features file, x-query-virtio-status); every
    report's status bytes come back (report-status-reports = report-reports, none
    malformed); the guest's host_discarded_pages equals QEMU's
    report-bytes-discarded / 4096 across the burst, nothing skipped on
    either side; no canary (host_checks does not move); every status
    byte is DISCARDED_ZERO and its pages are QEMU's
    report-bytes-discarded-zero;
  * patched QEMU, RAM on a shared memfd: the same, but DISCARDED, never
    DISCARDED_ZERO (a shared mapping need not read back zero);
  * patched QEMU, RAM on hugetlbfs, 64 KiB pieces freed at min_order 0:
    SKIP_UNALIGNED bytes for the pieces (the guest's host_skipped_pages
    = QEMU's bytes kept / 4096, status pages = report-bytes-skipped-
    unaligned), DISCARDED for the whole huge pages after;
  * patched QEMU, fphint.enabled=0: stock page_reporting's reports carry
    the status buffer too (every one written, none malformed, memory
    discarded, no warning);
  * patched QEMU, every 2nd status buffer a byte short (fault injection,
    debugfs fphint/status_short_every_n_requests): QEMU leaves those
    reports alone and counts them in report-status-malformed, the guest
    keeps their ranges (PENDING; host_skipped_pages = what QEMU never
    saw), nothing stays isolated;
  * patched QEMU with fphint-report-status=off, and stock QEMU: bit 21
    not negotiated, behaviour as before (canary checks, no per-range
    counts, no status byte), and the burst still reported.

About 7 minutes under TCG (hugetlbfs case skipped when the host
cannot reserve 1 GiB of huge pages).
"""
import os

from checklib import (GIB, check_console, figures, host_turn_stats, on_hugetlbfs, report,
                      tagged_line, vm, wait_seen)

FEATURE_BIT = 21
FEATURE = "VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS"
PAGE = 4096
# qemu/patches/0004-*: read besides vm.REPORT_COUNTERS.
STATUS_COUNTERS = ["report-bytes-discarded-zero", "report-status-reports",
                   "report-status-malformed"]
# <linux/fphint_hypercall.h>
HC_DISCARDED_ZERO, HC_DISCARDED, HC_SKIP_UNALIGNED = 1, 2, 18
BALLOON = "virtio-balloon-pci,id=balloon0,free-page-reporting=on"
MEMFD = ["-object", "memory-backend-memfd,id=ram0,size=2048M,share=on",
         "-machine", "memory-backend=ram0"]


def host_counters(g):
    """vm.host_counters() plus 0004's counters; None unless all were read."""
    c = vm.host_counters(g)
    vals = vm.qmp_batch(g, [("qom-get", {"path": vm.BALLOON, "property": p})
                            for p in STATUS_COUNTERS])
    if c is None or any(isinstance(v, Exception) for v in vals):
        return None
    c.update({p.replace("-", "_"): v for p, v in zip(STATUS_COUNTERS, vals)})
    return c


def status_codes(g, turn):
    """{code: (ranges, pages)} of debugfs fphint/virtio_status at TURN."""
    out = {}
    for _, t in g.lines:
        if t.startswith(f"@@STATUS {turn} "):
            kv = tagged_line(t[len("@@STATUS "):])
            out[int(kv["code"])] = (int(kv["ranges"]), int(kv["pages"]))
    return out


def run(accel, logdir, case, qemu, extra=(), append=""):
    """Boot one case; (guest, host counters at each turn, x-query-virtio-status)."""
    patched = qemu == "patched"
    hc, status = {}, None
    slug = "".join(c if c.isalnum() else "-" for c in case.lower())
    with open(os.path.join(logdir, f"report-status-{slug}.log"), "w") as log:
        g = vm.Guest("reportstatus", accel, append=append, log=log, qmp=patched, qemu=qemu,
                     profile="none", extra_args=list(extra)).start()
        try:
            for turn in ("before", "after"):
                if wait_seen(g, f"@@HOST-TURN {turn}", 300) and patched:
                    hc[turn] = host_counters(g)
                    if status is None:
                        status = vm.qmp(g, "x-query-virtio-status",
                                        path=vm.BALLOON + "/virtio-backend")
        finally:
            g.wait(300)
    report(g.seen("@@DONE rc=0"), f"report-status: {case}: guest ran to the end")
    return g, hc, status


def negotiated(g, status):
    """(bit 21 in the guest's features file, the feature's name among the
    device's negotiated features per QMP, None without QMP)."""
    feats = next((tagged_line(t).get("features") for _, t in g.lines
                  if t.startswith("@@BALLOON ")), None)
    bit = feats[FEATURE_BIT] == "1" if feats and len(feats) == 64 else None
    named = None
    if isinstance(status, dict):
        named = any(FEATURE in f for f in status.get("guest-features", {}).get("dev-features", []))
    return bit, named


def work(g, hc, label):
    """What moved across the work, between the two host turns: (guest
    stats delta, host counters delta, host counters after, guest stats
    just before and after the last turn, status codes at each turn); None
    (reported, console checked) when something was not read."""
    (b0, _), (a0, a1) = host_turn_stats(g, "before"), host_turn_stats(g, "after")
    h0, h1 = hc.get("before"), hc.get("after")
    if not (b0 and a0 and h0 and h1 and g.seen("@@STATUS-END after")):
        report(False, f"{label}: guest stats, host counters and status codes read at both turns")
        check_console(g, label)
        return None
    return (vm.counter_delta(b0, a0), vm.counter_delta(h0, h1), h1, a0, a1,
            status_codes(g, "before"), status_codes(g, "after"))


def with_status(accel, logdir, case, extra, codes, append=""):
    """Patched QEMU, bit 21 on: every status byte across the work is one of
    @codes, {code: QEMU counter whose delta is its pages * 4096}."""
    label = f"report-status: {case}"
    g, hc, status = run(accel, logdir, case, "patched", extra, append)
    bit, named = negotiated(g, status)
    report(bit is True and named is True,
           f"{label}: bit 21 negotiated (guest features file: {bit}, QMP guest-features: {named})")
    w = work(g, hc, label)
    if w is None:
        return
    gd, hd, h1, a0, a1, c0, c1 = w
    # Guest stats and status codes are read just before the host's turn;
    # a report while the host reads would make the two sides differ.
    quiet = "quiet" if a0["reported_bytes"] == a1["reported_bytes"] else "NOT quiet"
    burst = "frag" not in append
    report((gd["reported_bytes"] >= 0.9 * GIB or not burst) and gd["reported_bytes"] > 0
           and hd["report_bytes_requested"] == gd["reported_bytes"],
           f"{label}: reported {gd['reported_bytes'] / GIB:.2f} GiB, host requested "
           f"+{hd['report_bytes_requested']} == guest reported_bytes +{gd['reported_bytes']} "
           f"(the status bytes are not counted as a range)")
    report(hd["report_reports"] > 0 and hd["report_status_reports"] == hd["report_reports"]
           and h1["report_status_malformed"] == 0,
           f"{label}: every report's status bytes written (status-reports +{hd['report_status_reports']}"
           f" of reports +{hd['report_reports']}, malformed {h1['report_status_malformed']})")
    disc = hd["report_bytes_discarded"]
    kept = hd["report_bytes_requested"] - disc
    report(disc > 0 and gd["host_discarded_pages"] * PAGE == disc,
           f"{label}: guest host_discarded_pages +{gd['host_discarded_pages']} == QEMU "
           f"report-bytes-discarded +{disc} / {PAGE}")
    report(gd["host_skipped_pages"] * PAGE == kept,
           f"{label}: guest host_skipped_pages +{gd['host_skipped_pages']} == QEMU's bytes kept "
           f"+{kept} / {PAGE}")
    report(gd["host_checks"] == 0,
           f"{label}: exact transport, no canary (host_checks +{gd['host_checks']})")
    delta = {k: (c1[k][0] - c0.get(k, (0, 0))[0], c1[k][1] - c0.get(k, (0, 0))[1]) for k in c1}
    delta = {k: v for k, v in delta.items() if v[0]}
    want = {k: hd[v] for k, v in codes.items() if hd[v]}
    got = {k: v[1] * PAGE for k, v in delta.items()}
    report(got == want and (HC_DISCARDED_ZERO in codes or hd["report_bytes_discarded_zero"] == 0),
           f"{label}: status bytes across the work {delta} (code: (ranges, pages)) match QEMU's "
           f"counters {want} (code: bytes); report-bytes-discarded-zero "
           f"+{hd['report_bytes_discarded_zero']}; guest {quiet} during the host's turn")
    figures[f"report status ({case})"] = (
        f"{hd['report_reports']} reports, {hd['report_ranges']} ranges, "
        f"{disc >> 20} MiB discarded ({hd['report_bytes_discarded_zero'] >> 20} MiB zero), "
        f"{kept >> 10} KiB kept, {hd['report_discard_ns'] / 1e6:.1f} ms discarding")
    check_console(g, label)


def malformed(accel, logdir):
    """Every 2nd request's status buffer a byte short (fault injection),
    64 KiB pieces on anonymous RAM: QEMU leaves those reports alone and
    counts them, the guest keeps their ranges (PENDING), the rest as usual."""
    label = "report-status: status buffer a byte short"
    g, hc, _ = run(accel, logdir, "short status", "patched", ["-device", BALLOON],
                   "fphint_rs=frag fphint_rs_short=2")
    w = work(g, hc, label)
    if w is None:
        return
    gd, hd, h1, a0, a1, c0, c1 = w
    bad = hd["report_status_malformed"]
    report(bad > 0 and hd["report_status_reports"] > 0
           and hd["report_status_reports"] + bad == hd["report_reports"],
           f"{label}: QEMU counted {bad} malformed of {hd['report_reports']} reports, wrote the "
           f"status of the other {hd['report_status_reports']}")
    left = gd["reported_bytes"] - hd["report_bytes_requested"]
    report(left > 0 and gd["host_skipped_pages"] * PAGE == left
           and gd["host_discarded_pages"] * PAGE == hd["report_bytes_discarded"],
           f"{label}: the malformed reports' {left >> 10} KiB were not touched by QEMU and kept by "
           f"the guest (host_skipped_pages +{gd['host_skipped_pages']}); discarded "
           f"+{gd['host_discarded_pages']} pages on both sides")
    pending = c1.get(0, (0, 0))[1] - c0.get(0, (0, 0))[1]
    report(pending * PAGE == left,
           f"{label}: their status bytes came back PENDING ({pending} pages)")
    report(a1 is not None and a1.get("isolated_now_pages") == 0,
           f"{label}: every page back in the buddy (isolated_now_pages "
           f"{a1 and a1.get('isolated_now_pages')})")
    check_console(g, label)


def without_status(accel, logdir, case, qemu, extra):
    """Bit 21 not offered: as before."""
    label = f"report-status: {case}"
    g, hc, status = run(accel, logdir, case, qemu, extra)
    bit, named = negotiated(g, status)
    report(bit is False and named in (None, False),
           f"{label}: bit 21 not negotiated (guest features file: {bit}, QMP: {named})")
    (b0, _), (a0, _) = host_turn_stats(g, "before"), host_turn_stats(g, "after")
    if not (b0 and a0):
        report(False, f"{label}: guest stats at both turns")
        check_console(g, label)
        return
    gd = vm.counter_delta(b0, a0)
    report(gd["reported_bytes"] >= 0.9 * GIB and gd["host_checks"] > 0
           and gd["host_discarded_pages"] == 0 and gd["host_skipped_pages"] == 0,
           f"{label}: burst reported ({gd['reported_bytes'] / GIB:.2f} GiB) with canary checks "
           f"(host_checks +{gd['host_checks']}), no per-range counts (host_discarded_pages "
           f"+{gd['host_discarded_pages']}, host_skipped_pages +{gd['host_skipped_pages']})")
    report(g.seen("@@STATUS-END after") and not status_codes(g, "after"),
           f"{label}: no status byte seen ({status_codes(g, 'after')})")
    h0, h1 = hc.get("before"), hc.get("after")
    if qemu == "patched":
        ok = h0 and h1 and h1["report_status_reports"] == 0 and \
            vm.counter_delta(h0, h1)["report_reports"] > 0
        report(bool(ok), f"{label}: QEMU wrote no status bytes "
                         f"(status-reports {h1 and h1['report_status_reports']})")
    check_console(g, label)


def stock_reporting(accel, logdir):
    """fphint.enabled=0: stock page_reporting drives the queue, with the
    status buffer after its ranges (a full report of 32 ranges goes as two
    requests on QEMU's 32-entry queue)."""
    label = "report-status: fphint.enabled=0"
    g, hc, status = run(accel, logdir, "fphint.enabled=0", "patched", ["-device", BALLOON],
                        append="fphint.enabled=0")
    bit, named = negotiated(g, status)
    report(bit is True and named is True,
           f"{label}: bit 21 negotiated (guest features file: {bit}, QMP guest-features: {named})")
    h0, h1 = hc.get("before"), hc.get("after")
    if h0 and h1:
        hd = vm.counter_delta(h0, h1)
        report(hd["report_reports"] > 0 and hd["report_status_reports"] == hd["report_reports"]
               and h1["report_status_malformed"] == 0 and hd["report_bytes_discarded"] > 0
               and h1["report_bytes_discarded"] == h1["report_bytes_requested"],
               f"{label}: stock page_reporting's reports carry status bytes "
               f"(status-reports +{hd['report_status_reports']} of +{hd['report_reports']}, "
               f"{hd['report_ranges']} ranges, "
               f"malformed {h1['report_status_malformed']}, "
               f"{hd['report_bytes_discarded'] >> 20} MiB discarded across the burst)")
    else:
        report(False, f"{label}: host counters read at both turns")
    check_console(g, label)


def suite_report_status(accel, logdir):
    if not os.access(vm.PATCHED_QEMU, os.X_OK):
        report(True, "report-status: patched QEMU", skip=f"{vm.PATCHED_QEMU} missing: make qemu")
    else:
        with_status(accel, logdir, "anonymous RAM", ["-device", BALLOON],
                    {HC_DISCARDED_ZERO: "report_bytes_discarded_zero"})
        with_status(accel, logdir, "shared memfd", ["-device", BALLOON] + MEMFD,
                    {HC_DISCARDED: "report_bytes_discarded"})
        on_hugetlbfs(2048, "report-status: hugetlbfs", lambda args: with_status(
            accel, logdir, "hugetlbfs, 64 KiB pieces", ["-device", BALLOON] + args,
            {HC_DISCARDED: "report_bytes_discarded",
             HC_SKIP_UNALIGNED: "report_bytes_skipped_unaligned"}, append="fphint_rs=frag"))
        without_status(accel, logdir, "fphint-report-status=off", "patched",
                       ["-device", BALLOON + ",fphint-report-status=off"])
        stock_reporting(accel, logdir)
        malformed(accel, logdir)
    without_status(accel, logdir, "stock QEMU", "stock", ["-device", BALLOON])
