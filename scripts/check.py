#!/usr/bin/env python3
"""make check: boot the guest for each suite, collect TAP, assert on host RSS.

python3 scripts/check.py [--list] [SUITE...]: the suites of SUITES below, in
its order (all of them by default); --list prints them with what each checks.
Prints TAP and ends with "N passed, N failed"; exit 1 on any failure.
"""
import os
import re
import sys
import time

from checklib import (GIB, budget, burst_checks, check_console, curves, figures, guest_sh,
                      host_turn_stats, last_word, on_hugetlbfs, parse_tap, release_guest, report,
                      results, run_tap, runtime_checks, tagged, tagged_line, tap_block, vm, wait_seen)
from check_density import suite_density
from check_fleet import suite_fleet
from check_hypercall import PROFILE as HC_PROFILE, patched_offers, suite_hypercall
from check_hypercall_host import suite_hypercall_host, suite_kvm_host
from check_known_zero import suite_known_zero
from check_report_status import suite_report_status


def suite_selftest(accel, logdir):
    with open(os.path.join(logdir, "selftest.log"), "w") as log:
        g = vm.boot("selftest", accel, budget(900, storm=1), log=log)
    report(g.seen("@@DONE"), "selftest: guest booted and ran to the end")
    seen = parse_tap(g)
    for want in ("kunit:fphint-selection", "kunit:fphint-throttle", "kunit:fphint-host-policy",
                 "kunit:fphint-region", "kunit:fphint-capture",
                 "kunit:fphint-devices", "kunit:fphint-hypercall", "sysfs", "netlink", "storm"):
        report(want in seen, f"selftest: {want} results present")
    for _, text in g.lines:
        if text.startswith("@@STORM "):
            print("# " + text[2:])
    storm = tagged(g, "STORM")
    if storm:
        figures["storm"] = (f"{storm.get('switches')} runtime switches, "
                            f"{storm.get('pages_verified')} pages verified")
    bad = tagged(g, "BADINPUT")
    figures["bad inputs tried"] = ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
    report({"sysfs", "netlink"} <= set(bad), f"selftest: bad input sweeps ran ({figures['bad inputs tried']})")
    check_console(g, "selftest")


def suite_e2e(accel, logdir):
    """The virtio transport end to end, on stock QEMU (what operators run)
    and on the patched one (make qemu)."""
    curves["fphint"] = e2e_boot(accel, logdir, "stock")
    curves["fphint (patched QEMU)"] = e2e_boot(accel, logdir, "patched")


def e2e_boot(accel, logdir, qemu):
    sfx = "" if qemu == "stock" else f"-{qemu}"
    small = qemu == "stock"
    with open(os.path.join(logdir, f"e2e{sfx}.log"), "w") as log:
        g = vm.boot("e2e", accel, 300, log=log, qemu=qemu,
                    append="fphint.e2e_small=1" if small else "")
    g.save_rss(os.path.join(logdir, f"e2e{sfx}-rss.csv"))
    report(g.seen("@@DONE rc=0"), f"e2e: guest scenario ran to the end ({vm.describe_qemu(qemu)})")
    ctl = vm.burst_curve(g, "control")
    if ctl:
        frac = vm.frac_at(ctl[0], 10)
        report(frac < 0.10,
               f"e2e: control (fphint disabled), {qemu} QEMU: {frac:.1%} left RSS in 10 s (need < 10%)")
    else:
        report(False, "e2e: control burst events found")
    pts = burst_checks(g, "fphint", 0.90, 10, f"e2e: fphint default policy, {qemu} QEMU")
    if small:
        # Page-granular holes: nothing is at min_order, so without the
        # settled walk almost nothing may come back; with it, most.
        off = vm.burst_curve(g, "small-off")
        frac = vm.frac_at(off[0], 10) if off else None
        report(frac is not None and frac < 0.30,
               f"e2e: 4 KiB holes, settled_min_order = min_order: "
               f"{'–' if frac is None else f'{frac:.1%}'} left RSS in 10 s (need < 30%)")
        burst_checks(g, "small", 0.80, 10, "e2e: 4 KiB holes, settled_min_order 0 (default)")
    # Counters really moved, and agree with what the host saw.
    st = g.stats()
    if len(st) >= 2:
        last = st[-1][1]
        rep = vm.counter_delta(st[0][1], last)["reported_bytes"]
        report(rep >= 0.9 * GIB, f"e2e ({qemu} QEMU): reported_bytes grew by {rep / GIB:.2f} GiB (need >= 0.9)")
        report(last["isolated_now_pages"] == 0, f"e2e ({qemu} QEMU): no page left isolated at the end")
    else:
        report(False, "e2e: stats lines found")
    check_console(g, f"e2e ({qemu} QEMU)")
    return pts


GOLDEN = os.path.join(vm.TOP, "selftests", "fphint", "golden")


def sysfs_line(g, tag):
    for _, text in g.lines:
        if text.startswith(f"@@SYSFS {tag} "):
            return dict(kv.split("=", 1) for kv in text.split()[2:])
    return {}


def run_cli(*args, timeout=60):
    import subprocess
    p = subprocess.run([os.path.join(vm.BUILD, "cli", "fphintctl"), *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def suite_cli(accel, logdir):
    """fphintctl in the guest (golden output, errors, monitor), then from the
    host against the same running QEMU: QMP stats and a policy set through
    the guest agent.  FPHINT_UPDATE_GOLDEN=1 rewrites the golden files."""
    import json
    with open(os.path.join(logdir, "cli.log"), "w") as log:
        g = vm.Guest("cli", accel, log=log, qmp=True, qga=True).start()
        wait_seen(g, "@@HOST-TURN", 400)
        host = {}
        if g.seen("@@HOST-TURN"):
            host["qmp-text"] = run_cli("host", "--qmp", g.qmp_path, "stats")
            host["qmp-json"] = run_cli("-j", "host", "--qmp", g.qmp_path, "stats")
            host["rss_kib"] = vm.qemu_rss_kib(g.proc.pid)
            host["qga-bad-name"] = run_cli("host", "--qga", g.qga_path, "set-policy", "Bad Name")
            host["qga-missing"] = run_cli("host", "--qga", g.qga_path, "set-policy", "no-such-policy")
            host["qga-set"] = run_cli("host", "--qga", g.qga_path, "set-policy", "batch")
        g.wait(120)
    report(g.seen("@@DONE rc=0") and not g.seen("@@ERROR"), "cli: guest scenario ran to the end")
    blocks = g.out_blocks()
    update = os.environ.get("FPHINT_UPDATE_GOLDEN") == "1"
    for name in ("status", "status-json", "policy-list", "policy-show", "policy-show-json",
                 "set", "set-policy", "err-range", "err-key", "err-number", "err-stage",
                 "err-usage", "err-policy-name", "err-policy-file", "err-policy-key",
                 "err-nonroot"):
        path = os.path.join(GOLDEN, name + ".out")
        got = blocks.get(name)
        text = None if got is None else f"{got[0]}rc={got[1]}\n"
        if update and text is not None:
            os.makedirs(GOLDEN, exist_ok=True)
            open(path, "w").write(text)
        want = open(path).read() if os.path.exists(path) else None
        report(text is not None and text == want, f"cli: fphintctl {name} output matches golden/{name}.out")
        if text is not None and text != want:
            for line in text.splitlines()[:12]:
                print(f"#   got: {line}")
    # Exit codes: usage / validation 1, kernel 2.
    rcs = {n: blocks.get(n, (None, None))[1] for n in blocks}
    report(all(rcs.get(n) == 1 for n in ("err-range", "err-key", "err-number", "err-usage",
                                           "err-policy-file", "err-policy-key"))
           and all(rcs.get(n) == 2 for n in ("err-stage", "err-nonroot")),
           f"cli: exit status 1 for bad input, 2 for kernel refusals ({rcs})")
    report(any(t.startswith("@@CHECK unchanged ok") for _, t in g.lines),
           "cli: rejected commands left the configuration unchanged")
    a, b = sysfs_line(g, "after-set"), sysfs_line(g, "after-policy")
    report(a.get("min_order") == "5" and a.get("report_delay_ms") == "50"
           and a.get("policy") == "custom" and "[ratelimit]" in a.get("throttle", ""),
           f"cli: set changed the kernel's values ({a})")
    report(b.get("policy") == "database" and b.get("min_order") == "9"
           and b.get("report_delay_ms") == "1000" and b.get("low_mem_pct") == "20",
           f"cli: set-policy database applied the whole profile ({b})")
    # stats: JSON keys are the sysfs names, the values agree with sysfs.
    try:
        st = json.loads(blocks["stats-json"][0])
    except (KeyError, ValueError):
        st = {}
    sysfs = g.stats()
    after = sysfs[0][1] if sysfs else {}
    names = set(after) - {"t"}
    report(names and names <= set(st) and all(isinstance(st[k], int) and st[k] <= after[k] for k in names)
           and st.get("zones") and all({"node", "zone", "free_pages", "reported_free_pages"} <= set(z)
                                       for z in st["zones"]),
           "cli: stats -j has every sysfs counter (<= a later sysfs read) and per-zone figures")
    watch = [ln for ln in blocks.get("stats-watch", ("", 1))[0].splitlines() if ln.strip()]
    try:
        ok = len(watch) == 2 and all("captured" in json.loads(ln) for ln in watch)
    except ValueError:
        ok = False
    report(ok, f"cli: stats --watch 1 --count 2 printed two JSON samples ({len(watch)} lines)")
    mon = blocks.get("monitor", ("", 1))[0].strip().splitlines()
    try:
        ev = json.loads(mon[0]) if mon else {}
    except ValueError:
        ev = {}
    report(ev.get("event") == "config" and ev.get("report_delay_ms") == 77,
           f"cli: monitor received the config event of a sysfs write ({mon[:1]})")
    # Host side, against the same QEMU.
    rc, out, err = host.get("qmp-json", (None, "", ""))
    try:
        hs = json.loads(out)
    except ValueError:
        hs = {}
    rss = (host.get("rss_kib") or 0) * 1024
    report(rc == 0 and hs.get("qemu_pid") == g.proc.pid and rss
           and abs(hs.get("qemu_rss_bytes", 0) - rss) < 0.2 * rss,
           f"cli: host --qmp stats: QEMU pid and RSS match /proc ({hs.get('qemu_rss_bytes')} vs {rss})")
    report(hs.get("free_page_reporting") is True and "VIRTIO_BALLOON_F_REPORTING" in hs.get("guest_features", []),
           "cli: host --qmp stats: the balloon negotiated VIRTIO_BALLOON_F_REPORTING")
    report(hs.get("balloon_actual_bytes") == 2048 << 20, "cli: host --qmp stats: balloon actual size 2 GiB")
    rc, out, err = host.get("qmp-text", (None, "", ""))
    report(rc == 0 and "qemu_rss" in out, "cli: host --qmp stats prints text")
    rc1, _, e1 = host.get("qga-bad-name", (None, "", ""))
    rc2, _, e2 = host.get("qga-missing", (None, "", ""))
    report(rc1 == 1 and rc2 == 2 and e1.startswith("Error:") and e2.startswith("Error:"),
           f"cli: host --qga set-policy rejects a bad name (1) and a missing policy (2): {e1.strip()!r} {e2.strip()!r}")
    rc, out, err = host.get("qga-set", (None, "", ""))
    h = sysfs_line(g, "after-host")
    report(rc == 0 and h.get("policy") == "batch" and h.get("min_order") == "3",
           f"cli: host --qga set-policy batch applied in the guest ({h}, rc {rc} {err.strip()})")
    check_console(g, "cli")


def suite_faults(accel, logdir):
    """Injected failures, time-outs and late acks; the balloon unbound and
    enabled toggled while a report is in flight; then a burst on the
    rebound device must still leave QEMU's RSS."""
    with open(os.path.join(logdir, "faults.log"), "w") as log:
        g = vm.boot("faults", accel, 600, log=log)
    report(g.seen("@@DONE rc=0"), "faults: guest scenario ran to the end")
    report("faults" in parse_tap(g), "faults: results present")
    inj = int(tagged(g, "FAULTS").get("injected", 0))
    figures["faults injected"] = inj
    report(inj > 0, f"faults: {inj} faults injected into reports")
    cfg = tagged(g, "CONFIG").get("transport", "")
    report(cfg == "virtio", f"faults: virtio is the transport again after rebind ({cfg})")
    burst_checks(g, "rebound", 0.90, 10, "faults: after unbind and rebind")
    st = g.stats()
    report(bool(st) and st[-1][1]["isolated_now_pages"] == 0, "faults: nothing isolated at the end")
    check_console(g, "faults")


BALLOON = {"driver": "virtio-balloon-pci", "id": "balloon0", "free-page-reporting": True}


def balloon_present(g):
    return any(p["name"] == "balloon0"
               for p in vm.qmp(g, "qom-list", path="/machine/peripheral"))


def balloon_plug(g, on, timeout=30):
    """device_add / device_del the balloon over QMP; True once QEMU has it
    (or, for an unplug, once the guest has ejected it)."""
    if on:
        vm.qmp(g, "device_add", _args=BALLOON)
    else:
        vm.qmp(g, "device_del", id="balloon0")
    end = time.monotonic() + timeout
    while time.monotonic() < end and balloon_present(g) != on:
        time.sleep(0.2)
    return balloon_present(g) == on


def suite_runtime(accel, logdir):
    """fphint enabled at runtime after a fphint.enabled=0 boot, through
    sysfs and through netlink, with and without a balloon: no bad page
    state, no taint, and with a balloon it takes the device over from stock
    page_reporting and the memory freed afterwards leaves QEMU's RSS."""
    for via in ("sysfs", "netlink"):
        for profile in ("reporting", "none"):
            label = f"runtime ({via}, {'balloon' if profile == 'reporting' else 'no balloon'})"
            with open(os.path.join(logdir, f"runtime-{via}-{profile}.log"), "w") as log:
                g = vm.boot("runtime", accel, 300, log=log, profile=profile,
                            append=f"fphint.enabled=0 fphint.via={via}")
            en = tagged(g, "ENABLE")
            want = "virtio" if profile == "reporting" else "null"
            report(en.get("rc") == "0" and en.get("enabled") == "1" and en.get("transport") == want,
                   f"{label}: enable accepted, transport {en.get('transport')} (want {want})")
            report(tagged(g, "VERIFY").get("rc") == "0", f"{label}: memory verified after enable")
            if profile == "reporting":
                burst_checks(g, "stock", 0.40, 10, f"{label}: stock page_reporting before enable")
                burst_checks(g, "fphint", 0.90, 10, f"{label}: after enable")
                report(any("taken over from page_reporting" in t for _, t in g.lines),
                       f"{label}: fphint took the device over from page_reporting")
            runtime_checks(g, label)


def suite_hotplug(accel, logdir):
    """No balloon at boot (null transport), then device_add: memory freed
    before the plug must leave QEMU's RSS; device_del: back to null."""
    with open(os.path.join(logdir, "hotplug.log"), "w") as log:
        g = vm.Guest("hotplug", accel, profile="none", qmp=True, log=log).start()
        try:
            ok = wait_seen(g, "@@EVENT plug-me", 120)
            report(ok, "hotplug: guest freed 512 MiB through null")
            base = vm.qemu_rss_kib(g.proc.pid) if ok else None
            report(ok and balloon_plug(g, True), "hotplug: device_add virtio-balloon-pci")
            ok = wait_seen(g, "@@EVENT unplug-me", 60)
            low = min((kib for t, kib in g.rss), default=None)
            if base and low is not None:
                frac = (base - low) * 1024 / (512 << 20)
                report(frac >= 0.80, f"hotplug: {frac:.0%} of the 512 MiB freed before the plug "
                       f"left QEMU RSS after it (need >= 80%)")
            else:
                report(False, "hotplug: RSS samples found")
            report(ok and balloon_plug(g, False), "hotplug: device_del ejected by the guest")
        finally:
            g.wait(120)
    tr = [t.split()[1] for _, t in g.lines if t.startswith("@@TRANSPORT ")]
    report(tr == ["virtio", "null"], f"hotplug: transport virtio after the plug, null after the unplug ({tr})")
    report(last_word(g, "ISOLATED") == "0", "hotplug: nothing isolated at the end")
    runtime_checks(g, "hotplug")


def suite_storm_hotplug(accel, logdir):
    """The switch storm in a guest booted with fphint.enabled=0, while the
    host unplugs and plugs the balloon over QMP every few seconds."""
    cycles = 0
    with open(os.path.join(logdir, "storm-hotplug.log"), "w") as log:
        g = vm.Guest("storm", accel, qmp=True, log=log, append="fphint.enabled=0").start()
        try:
            if wait_seen(g, "@@EVENT storm-start", 120):
                present = True
                while not wait_seen(g, "@@EVENT storm-end", 3):
                    if balloon_plug(g, not present):
                        present = not present
                        cycles += present
                if not present:
                    balloon_plug(g, True)
        except (OSError, RuntimeError) as e:
            # The guest powers off at the end of its scenario.
            if g.proc.poll() is None:
                report(False, f"storm-hotplug: QMP: {e}")
        finally:
            g.wait(budget(400, storm=2))
    report(cycles >= 3, f"storm-hotplug: balloon unplugged and plugged {cycles} times during the storm")
    report("storm" in parse_tap(g), "storm-hotplug: storm results present")
    storm = tagged(g, "STORM")
    if storm:
        figures["storm (fphint.enabled=0 boot, hotplug)"] = (
            f"{storm.get('switches')} switches, {storm.get('pages_verified')} pages verified, "
            f"{cycles} unplug/plug cycles")
    runtime_checks(g, "storm-hotplug")


def suite_initfail(accel, logdir):
    """fphint_init() failing at each step unwinds, and the balloon falls
    back to stock page_reporting."""
    for step in (1, 2, 3):
        label = f"initfail (step {step})"
        with open(os.path.join(logdir, f"initfail-{step}.log"), "w") as log:
            g = vm.boot("initfail", accel, 300, log=log, append=f"fphint.fail_init={step}")
        st = tagged(g, "INITFAIL")
        report(st.get("sysfs") == "absent" and st.get("netlink") == "absent",
               f"{label}: no half-initialised interface left ({st})")
        report(any("initialisation failed" in t for _, t in g.lines),
               f"{label}: the failure is logged")
        burst_checks(g, "stock", 0.40, 12, f"{label}: stock page_reporting returns memory")
        runtime_checks(g, label)


def suite_lowmem(accel, logdir):
    with open(os.path.join(logdir, "lowmem.log"), "w") as log:
        g = vm.boot("lowmem", accel, budget(600, lowmem=2), log=log)
    report(g.seen("@@DONE rc=0"), "lowmem: guest scenario ran to the end")
    report("lowmem" in parse_tap(g), "lowmem: results present")
    for _, text in g.lines:
        if text.startswith("@@LOWMEM "):
            print("# " + text[2:])
            kv = dict(p.split("=", 1) for p in text.split()[1:])
            figures[f"lowmem hinting {kv['hinting']}"] = (
                f"{kv['oom_kills']} OOM kills, {kv['bursts']} bursts, "
                f"{kv['throttled']} throttled, min MemAvailable {int(kv['min_avail_kib']) // 1024} MiB")
    check_console(g, "lowmem", allow_oom=True)


def suite_integrity(accel, logdir):
    """Pattern checker on every CPU, then stress-ng --verify (vm, vm with
    --page-in, bigheap), hinting at its most aggressive (layer "stress")."""
    # The patched QEMU's report hypercall confirms zeros: the stress runs
    # then check known-zero blocks too (make check builds it).
    patched = patched_offers() is None
    host = {"qemu": "patched", "profile": HC_PROFILE} if patched else {}
    with open(os.path.join(logdir, "integrity.log"), "w") as log:
        g = vm.boot("integrity", accel, budget(900, integrity=1, stress=6), log=log,
                    layer="stress", **host)
    report(g.seen("@@DONE rc=0"), "integrity: guest scenario ran to the end")
    seen = parse_tap(g)
    for want in ("integrity", "stress-ng"):
        report(want in seen, f"integrity: {want} results present")
    it = tagged(g, "INTEGRITY")
    figures["integrity"] = (f"{it.get('pages_verified')} pages verified, {it.get('mismatches')} "
                            f"mismatches, reported {it.get('reported')} / reused {it.get('reused')} pages")
    runs = [tagged_line(t) for _, t in g.lines if t.startswith("@@STRESSNG ")]
    for i, kv in enumerate(runs, 1):
        figures[f"stress-ng run {i} ({kv.get('stressor')})"] = (
            f"rc {kv.get('rc')}, {kv.get('bogo_ops')} bogo ops, {kv.get('reported')} pages "
            f"reported, {kv.get('reused')} reused in {kv.get('secs')} s")
    kz = tagged(g, "INTEGRITYKZ")
    n = {k: int(v) for k, v in kz.items() if v.isdigit()}
    figures["integrity, known-zero during stress-ng"] = " ".join(f"{k}={v}" for k, v in kz.items())
    if not patched:
        report(True, "integrity: stress-ng --verify with known-zero blocks",
               skip=f"no patched QEMU with the report hypercall ({patched_offers()})")
    else:
        report(kz.get("transport") == "hypercall" and n.get("known_zero_pages", 0) > 0
               and n.get("zeroing_skipped_pages", 0) > 0 and n.get("known_zero_checked_pages", 0) > 0,
               f"integrity: stress-ng --verify ran on known-zero blocks, each checked ({kz})")
        report(n.get("known_zero_mismatches") == 0,
               f"integrity: no known-zero block was anything but zero "
               f"({n.get('known_zero_mismatches')} mismatches)")
    check_console(g, "integrity", allow_oom=True)


def suite_peer(accel, logdir):
    """The kernel's own mm selftests (tools/testing/selftests/vm of the same
    6.1 tree, layer "mm") with hinting off, then aggressive: the same tests
    must pass.  A test failing in both runs is listed, not failed: that is
    the test kernel lacking something, not hinting."""
    with open(os.path.join(logdir, "peer.log"), "w") as log:
        g = vm.boot("peer", accel, 1500, log=log, layer="mm")
    report(g.seen("@@DONE"), "peer: guest scenario ran to the end")
    off, agg = tap_block(g, "peer-off"), tap_block(g, "peer-aggressive")
    end = "run_vmtests.sh ran to the end"
    report(off.get(end) == "pass" and agg.get(end) == "pass",
           f"peer: run_vmtests.sh completed with hinting off and aggressive")
    passed = {m: sorted(t for t, r in res.items() if r == "pass" and t != end)
              for m, res in (("off", off), ("aggressive", agg))}
    same = bool(passed["off"]) and passed["off"] == passed["aggressive"]
    report(same, f"peer: the same {len(passed['off'])} mm selftests pass with hinting off "
                 f"and aggressive ({len(passed['aggressive'])} aggressive)")
    for t in sorted(set(passed["off"]) ^ set(passed["aggressive"])):
        print(f"#   differs: {t}: off {off.get(t)}, aggressive {agg.get(t)}")
    for m, res in (("off", off), ("aggressive", agg)):
        figures[f"mm selftests, hinting {m}"] = (
            f"{len(passed[m])} pass: " + ", ".join(passed[m]) + "; not passing: "
            + "; ".join(f"{t} ({r})" for t, r in sorted(res.items()) if r != "pass") or "none")
    # Hinting really worked during the aggressive run.
    phase = {e.get("name"): float(e["t"]) for _, e in g.events() if e["_what"] == "phase"}
    st = [s for _, s in g.stats() if s["t"] >= phase.get("peer-aggressive", float("inf"))]
    grew = vm.counter_delta(st[0], st[-1])["reported_pages"] if len(st) >= 2 else 0
    report(grew > 0, f"peer: hinting reported {grew} pages during the aggressive run")
    check_console(g, "peer", allow_oom=True)


def hostcheck_phases(g):
    """Stats at the start, at the end of phase frag, at the end; and the two
    @@DELAY values."""
    # Guest clock on both sides: stats lines and events carry uptime.
    evs = {e.get("name"): float(e["t"]) for _, e in g.events() if e["_what"] == "phase"}
    st = g.stats()
    if "frag" not in evs or "aligned" not in evs or not st:
        return None
    on_guest_clock = [(s["t"], s) for _, s in st]
    before, frag = (vm.sample_before(on_guest_clock, evs[k]) for k in ("frag", "aligned"))
    delays = [int(text.split("=")[1]) for _, text in g.lines if text.startswith("@@DELAY ")]
    if before is None or frag is None or len(delays) != 2:
        return None
    return before, frag, st[-1][1], delays


def host_skipped(backend, before, after):
    """(host_checks, host_skipped) between two guest stats samples, kept
    for the closing figures."""
    d = vm.counter_delta(before, after)
    figures[f"host_skipped ({backend})"] = f"{d['host_skipped']} of {d['host_checks']} checked reports"
    return d["host_checks"], d["host_skipped"]


def hostcheck_boot(accel, logdir, backend, args=(), counters=False):
    """counters=True: on the patched QEMU, its report-* counters sampled
    while the guest runs (g.counters, a vm.CounterSampler)."""
    with open(os.path.join(logdir, f"hostcheck-{backend}.log"), "w") as log:
        if counters:
            # The canary is what this suite tests: the patched balloon's
            # per-range outcomes (bit 21) would make it unneeded.
            g = vm.Guest("hostcheck", accel, log=log, qmp=True, qemu="patched",
                         extra_args=list(args) + ["-global", "virtio-balloon-device."
                                                  "fphint-report-status=off"]).start()
            g.counters = vm.CounterSampler(g)
            g.wait(300)
            g.counters.stop()
        else:
            g = vm.boot("hostcheck", accel, 300, log=log, extra_args=args)
    report(g.seen("@@DONE rc=0"), f"hostcheck: {backend}-backed guest ran to the end")
    return g, hostcheck_phases(g)


def hostcheck_counters(g):
    """Host counters on hugetlbfs: phase frag (min_order 0) makes QEMU skip
    unaligned ranges, and counts them instead of discarding; phase aligned
    (min_order 9) is discarded whole."""
    arrived = {e.get("name"): t for t, e in g.events() if e["_what"] == "phase"}
    c = g.counters
    c0, c1 = (c.before(arrived[k]) if k in arrived else None for k in ("frag", "aligned"))
    c2 = c.samples[-1][1] if c.samples else None
    if not (c0 and c1 and c2):
        report(False, f"hostcheck: hugetlbfs: host counters sampled at each phase "
                      f"({len(c.samples)} samples, errors {c.errors[:2]})")
        return
    d1, d2 = vm.counter_delta(c0, c1), vm.counter_delta(c1, c2)
    kept = ("report_bytes_skipped_inhibited", "report_bytes_skipped_poison",
            "report_bytes_skipped_unaligned", "report_bytes_skipped_not_ram", "report_bytes_failed")
    figures["host counters (hugetlbfs, min_order 0)"] = (
        f"requested {d1['report_bytes_requested'] >> 10} KiB, discarded "
        f"{d1['report_bytes_discarded'] >> 10} KiB, skipped unaligned "
        f"{d1['report_bytes_skipped_unaligned'] >> 10} KiB")
    report(d1["report_bytes_skipped_unaligned"] > 0,
           f"hostcheck: hugetlbfs, small blocks: QEMU counted "
           f"{d1['report_bytes_skipped_unaligned'] >> 10} KiB skipped as unaligned")
    report(all(c2[k] == c2["report_bytes_requested"] - c2["report_bytes_discarded"] - sum(
               c2[j] for j in kept if j != k) for k in kept),
           "hostcheck: hugetlbfs: requested = discarded + skipped + failed "
           f"({c2['report_bytes_requested']} = {c2['report_bytes_discarded']} + "
           f"{sum(c2[k] for k in kept)})")
    report(d2["report_bytes_discarded"] > 0 and d2["report_bytes_skipped_unaligned"] == 0,
           f"hostcheck: hugetlbfs, min_order 9: {d2['report_bytes_discarded'] >> 20} MiB discarded, "
           f"{d2['report_bytes_skipped_unaligned'] >> 10} KiB skipped unaligned")


def suite_hostcheck(accel, logdir):
    """A host that acknowledges reports but keeps the memory (RAM on
    hugetlbfs: QEMU silently skips ranges not aligned to 2 MiB) is found out
    by the canary and hinting backs off, and resumes once whole huge pages
    are reported; a normal host raises no alarm."""
    warn = "host acknowledges reports without discarding"
    ran = on_hugetlbfs(2048, "hostcheck: hugetlbfs-backed guest", lambda args: hostcheck_boot(
        accel, logdir, "hugetlbfs", args, counters=True))
    if ran is not None:
        g, ph = ran
        hostcheck_counters(g)
        if ph:
            s0, s1, s2, delays = ph
            checks, skipped = host_skipped("hugetlbfs", s0, s1)
            report(skipped >= 4, f"hostcheck: hugetlbfs, small blocks: host_skipped +{skipped} of {checks} checks")
            d1, d2 = vm.counter_delta(s0, s1), vm.counter_delta(s1, s2)
            report(d1["backoffs"] > 0 and delays[0] > 20,
                   f"hostcheck: hugetlbfs: backed off (backoffs +{d1['backoffs']}, "
                   f"delay now {delays[0]} ms, set 20 ms)")
            report(d2["host_checks"] > 0 and d2["host_skipped"] == 0 and delays[1] == 20,
                   f"hostcheck: hugetlbfs, min_order 9: discards seen again (checks +"
                   f"{d2['host_checks']}, skipped +{d2['host_skipped']}, "
                   f"delay back to {delays[1]} ms)")
        else:
            report(False, "hostcheck: hugetlbfs: phase events, stats and delays found")
        n = sum(1 for _, t in g.lines if t.startswith("@@KLOG ") and warn in t)
        report(n == 1, f"hostcheck: hugetlbfs: logged once ({n} times)")
        check_console(g, "hostcheck (hugetlbfs)")

    g, ph = hostcheck_boot(accel, logdir, "normal")
    if ph:
        s0, _, s2, _ = ph
        checks, skipped = host_skipped("normal", s0, s2)
        report(checks > 0 and skipped == 0,
               f"hostcheck: normal backend: no false alarm ({skipped} skipped of {checks} checks)")
    else:
        report(False, "hostcheck: normal: phase events and stats found")
    report(not any(warn in t for _, t in g.lines), "hostcheck: normal backend: no warning logged")
    check_console(g, "hostcheck (normal)")


def host_cli(*args, timeout=60):
    """fphintctl on the host, profiles from this tree's policies/."""
    import subprocess
    env = dict(os.environ, FPHINT_POLICY_PATH=os.path.join(vm.TOP, "policies"))
    p = subprocess.run([os.path.join(vm.BUILD, "cli", "fphintctl"), *args],
                       capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


POLICY_FILES = ("enabled host_policy policy policy_source capture selection transport throttle "
                "min_order capture_batch report_batch report_delay_ms low_mem_pct ratelimit_mib_s")


def guest_config(g):
    """The guest's fphint configuration, read from sysfs through the agent;
    stage files as the name in force."""
    _, out = guest_sh(g, f"cd /sys/kernel/mm/fphint && for f in {POLICY_FILES}; "
                         'do echo "$f=$(cat $f)"; done')
    cfg = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    for k, v in cfg.items():
        m = re.search(r"\[([^]]+)\]", v)
        if m:
            cfg[k] = m.group(1)
    return cfg


def raw_policy(g, text, timeout=15):
    """qom-set fphint-policy-text as is (no fphintctl checks), then wait
    for the guest's answer: (generation, errno), errno None on no answer."""
    vm.qmp(g, "qom-set", path=vm.BALLOON, property="fphint-policy-text", value=text)
    gen = vm.qmp(g, "qom-get", path=vm.BALLOON, property="fphint-policy-gen")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ack = vm.qmp(g, "qom-get", path=vm.BALLOON, property="fphint-policy-ack-gen")
        if ack >= gen:
            return gen, vm.qmp(g, "qom-get", path=vm.BALLOON, property="fphint-policy-errno")
        time.sleep(0.1)
    return gen, None


def suite_qemu(accel, logdir):
    """The patched QEMU (make qemu): its discard counters agree with what
    the guest reported; policy set from the host through the balloon
    (fphintctl host --qmp and raw qom-set: applied, refused with the
    guest's errno and nothing changed, EPERM with host_policy off); stock
    QEMU says it cannot and points to --qga."""
    import json

    # 1. Counters across a 1 GiB burst, read while the guest holds still
    # before and after it.
    with open(os.path.join(logdir, "qemu-counters.log"), "w") as log:
        g = vm.Guest("hostcounters", accel, log=log, qmp=True, qemu="patched").start()
        hc, cli = {}, None
        try:
            for turn in ("before", "after"):
                if wait_seen(g, f"@@HOST-TURN {turn}", 300):
                    hc[turn] = vm.host_counters(g)
            if hc.get("after"):
                cli = host_cli("-j", "host", "--qmp", g.qmp_path, "stats")
        finally:
            g.wait(300)
    report(g.seen("@@DONE rc=0"), "qemu: counters guest ran to the end")

    (b0, b1), (a0, a1) = host_turn_stats(g, "before"), host_turn_stats(g, "after")
    h0, h1 = hc.get("before"), hc.get("after")
    if h0 and h1 and b0 and a0:
        quiet = b0["reported_bytes"] == b1["reported_bytes"] and a0["reported_bytes"] == a1["reported_bytes"]
        report(quiet, "qemu: the guest reported nothing while the host read "
                      f"({b0['reported_bytes']} -> {b1['reported_bytes']}, "
                      f"{a0['reported_bytes']} -> {a1['reported_bytes']})")
        gd, hd = vm.counter_delta(b0, a0), vm.counter_delta(h0, h1)
        guest = gd["reported_bytes"]
        req, disc = hd["report_bytes_requested"], hd["report_bytes_discarded"]
        report(guest >= 0.9 * GIB, f"qemu: the burst was reported ({guest / GIB:.2f} GiB)")
        report(req == guest,
               f"qemu: across the burst, host report-bytes-requested +{req} == guest reported_bytes +{guest}")
        report(h1["report_bytes_discarded"] == h1["report_bytes_requested"] and disc == req,
               f"qemu: normal RAM: all of it discarded (+{disc} of +{req}; "
               f"{h1['report_bytes_discarded']} of {h1['report_bytes_requested']} since boot)")
        skipped = {k: v for k, v in h1.items() if "skipped" in k or "failed" in k}
        report(not any(skipped.values()), f"qemu: normal RAM: nothing skipped or failed {skipped}")
        nrep = hd["report_reports"]
        report(nrep > 0 and hd["report_ranges"] >= nrep and hd["report_discard_ns"] > 0,
               f"qemu: burst: {nrep} reports (guest +{gd['reports']}), "
               f"{hd['report_ranges']} ranges, {hd['report_discard_ns'] / 1e6:.1f} ms discarding")
        figures["host counters across a 1 GiB burst"] = (
            f"requested +{req} B = guest reported_bytes +{guest} B, discarded +{disc} B in {nrep} "
            f"reports, {hd['report_discard_ns'] / 1e6:.1f} ms")
    else:
        report(False, f"qemu: counters read at both host turns ({hc}) and guest stats around them")
    rc, out, err = cli or (None, "", "")
    try:
        js = json.loads(out)
    except ValueError:
        js = {}
    report(rc == 0 and js.get("host_counters") is True and h1 is not None
           and js.get("report_bytes_discarded") == h1["report_bytes_discarded"],
           f"qemu: fphintctl -j host --qmp stats shows the counters (rc {rc}, "
           f"report_bytes_discarded {js.get('report_bytes_discarded')}) {err.strip()}")
    check_console(g, "qemu (counters)")

    # 2. Host-set policy through the patched balloon (fphint-policy=on).
    with open(os.path.join(logdir, "qemu-policy.log"), "w") as log:
        g = vm.Guest("hostpolicy", accel, log=log, qmp=True, qga=True, qemu="patched",
                     profile="policy").start()
        try:
            if wait_seen(g, "@@HOST-TURN", 300):
                vm.qga(g, "guest-ping", _timeout=60)
                policy_checks(g)
            else:
                report(False, "qemu: policy guest reached the host's turn")
        except (OSError, RuntimeError, ValueError) as e:
            report(False, f"qemu: policy: {type(e).__name__}: {e}")
        finally:
            release_guest(g)
    report(g.seen("@@DONE rc=0"), "qemu: policy guest ran to the end")
    check_console(g, "qemu (policy)")

    # 3. Stock QEMU: no counters, no policy; says so.
    with open(os.path.join(logdir, "qemu-stock.log"), "w") as log:
        g = vm.Guest("hostpolicy", accel, log=log, qmp=True, qga=True, qemu="stock").start()
        try:
            if wait_seen(g, "@@HOST-TURN", 300):
                rc, out, err = host_cli("-j", "host", "--qmp", g.qmp_path, "stats")
                try:
                    js = json.loads(out)
                except ValueError:
                    js = {}
                report(rc == 0 and js.get("host_counters") is False
                       and js.get("report_bytes_discarded", 0) is None
                       and "host counters unavailable (stock QEMU" in err
                       and js.get("qemu_rss_bytes", 0) > 0,
                       f"qemu: stock: host --qmp stats says the counters are unavailable and prints the rest "
                       f"(rc {rc}, {err.strip()!r})")
                rc, out, err = host_cli("host", "--qmp", g.qmp_path, "set-policy", "database")
                want = ("Error: this QEMU cannot carry policy to the guest (no fphint-policy support; "
                        "stock QEMU?): use --qga SOCK")
                report(rc == 2 and err.strip() == want,
                       f"qemu: stock: host --qmp set-policy exits 2 pointing to --qga (rc {rc}, {err.strip()!r})")
                vm.qga(g, "guest-ping", _timeout=60)
            else:
                report(False, "qemu: stock guest reached the host's turn")
        finally:
            release_guest(g)
    report(g.seen("@@DONE rc=0"), "qemu: stock guest ran to the end")
    check_console(g, "qemu (stock)")

    # 4. Migration of the new device state, and compatibility with stock.
    qemu_migration_checks(logdir)


def qemu_migration_checks(logdir):
    """Migration through a file, no guest needed (-S): the fphint-policy
    state travels in its subsection; without the feature the stream is
    stock's, both ways."""
    import subprocess
    import tempfile
    rep = "virtio-balloon-pci,id=balloon0,free-page-reporting=on"
    pol = rep + ",fphint-policy=on"

    class Paused:
        def __init__(self, qemu, dev, sockdir, name, extra=()):
            self.qmp_path = os.path.join(sockdir, name + ".sock")
            self.proc = subprocess.Popen(
                vm.qemu_argv(qemu) + ["-m", "256", "-nodefaults", "-display", "none", "-S",
                                      "-accel", "tcg", "-device", dev,
                                      "-qmp", f"unix:{self.qmp_path},server=on,wait=off", *extra],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def until(self, cmd, key, done, timeout=30):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                st = vm.qmp(self, cmd).get(key)
                if st in done:
                    return st
                time.sleep(0.1)
            return None

        def stop(self):
            self.proc.kill()
            return self.proc.communicate()[0]

    def migrate(src_q, dst_q, src_dev, dst_dev, text=None):
        with tempfile.TemporaryDirectory(prefix="fphint-mig-") as d:
            state = os.path.join(d, "state")
            a = Paused(src_q, src_dev, d, "src")
            try:
                if text is not None:
                    vm.qmp(a, "qom-set", path=vm.BALLOON, property="fphint-policy-text", value=text)
                vm.qmp(a, "migrate", uri=f"exec:cat > {state}")
                out = a.until("query-migrate", "status", ("completed", "failed"))
            finally:
                a.stop()
            b = Paused(dst_q, dst_dev, d, "dst", ["-incoming", f"exec:cat {state}"])
            try:
                st = b.until("query-status", "status", ("prelaunch", "paused", "running"))
                got = None
                if st and text is not None:
                    got = (vm.qmp(b, "qom-get", path=vm.BALLOON, property="fphint-policy-text"),
                           vm.qmp(b, "qom-get", path=vm.BALLOON, property="fphint-policy-gen"))
            finally:
                log = b.stop()
            return out, st, got, log.strip()[-200:]

    out, st, got, log = migrate("patched", "patched", pol, pol, "min_order=9\n")
    report(out == "completed" and st == "prelaunch" and got == ("min_order=9\n", 1),
           f"qemu: migration, fphint-policy on: text and generation arrive ({out}, {st}, {got}) {log}")
    out, st, _, log = migrate("patched", "stock", rep, rep)
    report(out == "completed" and st == "prelaunch",
           f"qemu: migration, patched without fphint-policy -> stock QEMU ({out}, {st}) {log}")
    out, st, _, log = migrate("stock", "patched", rep, rep)
    report(out == "completed" and st == "prelaunch",
           f"qemu: migration, stock QEMU -> patched ({out}, {st}) {log}")


def policy_checks(g):
    import errno
    import json
    q = lambda prop: vm.qmp(g, "qom-get", path=vm.BALLOON, property=prop)  # noqa: E731
    c0 = guest_config(g)
    report(c0.get("host_policy") == "1" and c0.get("policy_source") in ("default", "local"),
           f"qemu: policy: guest starts with host_policy 1, source {c0.get('policy_source')}")
    gen0 = q("fphint-policy-gen")

    # fphintctl host --qmp set-policy database: the whole profile
    rc, out, err = host_cli("-j", "host", "--qmp", g.qmp_path, "set-policy", "database")
    c1 = guest_config(g)
    want = {"policy": "database", "policy_source": "host", "min_order": "9", "throttle": "ratelimit",
            "report_delay_ms": "1000", "low_mem_pct": "20", "ratelimit_mib_s": "256"}
    got = {k: c1.get(k) for k in want}
    try:
        ans = json.loads(out)
    except ValueError:
        ans = {}
    gen, ack, eno = q("fphint-policy-gen"), q("fphint-policy-ack-gen"), q("fphint-policy-errno")
    report(rc == 0 and got == want, f"qemu: host --qmp set-policy database applied in the guest "
                                    f"(rc {rc} {err.strip()}; {got})")
    report(gen == gen0 + 1 and ack == gen and eno == 0 and ans.get("generation") == gen,
           f"qemu: policy generation {gen0} -> {gen}, guest acked {ack} errno {eno}, CLI printed "
           f"{ans.get('generation')}")

    # fphintctl host --qmp set: only the given keys
    rc, out, err = host_cli("host", "--qmp", g.qmp_path, "set", "min_order=5", "report_batch=16")
    c2 = guest_config(g)
    report(rc == 0 and c2.get("min_order") == "5" and c2.get("report_batch") == "16"
           and all(c2.get(k) == c1.get(k) for k in ("throttle", "report_delay_ms", "low_mem_pct",
                                                    "ratelimit_mib_s", "capture")),
           f"qemu: host --qmp set min_order=5 report_batch=16 changed only those (rc {rc} {err.strip()}; "
           f"min_order {c2.get('min_order')}, report_batch {c2.get('report_batch')}, "
           f"source {c2.get('policy_source')})")

    # Raw qom-set of bad input: refused by the guest, nothing changed.
    bad = [("unknown key", "no_such_key=1\n", {errno.EINVAL}),
           ("out of range", "min_order=99\n", {errno.EINVAL, errno.ERANGE}),
           ("garbage bytes", "\u0001\u0002", {errno.EINVAL}),
           ("does not fit", "report_delay_ms=99999999999999999999\n", {errno.ERANGE, errno.EINVAL}),
           ("one bad value of two", "min_order=3\nreport_batch=99999999\n", {errno.EINVAL, errno.ERANGE}),
           ("host_policy", "host_policy=0\n", {errno.EINVAL, errno.EPERM}),
           ("empty", "", {errno.EINVAL})]
    for what, text, ok_errnos in bad:
        gen, eno = raw_policy(g, text)
        c = guest_config(g)
        report(eno in ok_errnos and c == c2,
               f"qemu: raw qom-set, {what} ({text!r}): guest refused, errno {eno} "
               f"({errno.errorcode.get(eno, '-') if eno else '-'}), config "
               f"{'unchanged' if c == c2 else 'CHANGED'}")
    # Over 512 bytes: QEMU itself refuses, the generation does not move.
    gen = q("fphint-policy-gen")
    try:
        vm.qmp(g, "qom-set", path=vm.BALLOON, property="fphint-policy-text", value="a" * 513)
        refused = False
    except RuntimeError:
        refused = True
    report(refused and q("fphint-policy-gen") == gen, "qemu: policy text over 512 bytes refused by QEMU")

    # The CLI's report of a refusal, from a profile the guest refuses: none
    # (the CLI checks first), so through an unknown stage the guest lacks.
    rc, out, err = host_cli("host", "--qmp", g.qmp_path, "set", "capture=no-such-stage")
    report(rc == 1 and "Error: guest refused the policy: Invalid argument (errno 22)" in err
           and guest_config(g) == c2,
           f"qemu: host --qmp set of a stage the guest lacks: exit 1, {err.strip()!r}")

    # host_policy off in the guest: EPERM on the host, nothing changed.
    guest_sh(g, "echo 0 > /sys/kernel/mm/fphint/host_policy")
    c3 = guest_config(g)
    rc, out, err = host_cli("host", "--qmp", g.qmp_path, "set", "min_order=7")
    c4 = guest_config(g)
    report(rc == 1 and "Error: guest refused the policy: Operation not permitted (errno 1)" in err
           and q("fphint-policy-errno") == errno.EPERM and c4 == c3 and c4.get("min_order") == "5",
           f"qemu: host_policy 0: host --qmp set refused with EPERM, exit {rc}, {err.strip()!r}, "
           f"min_order {c4.get('min_order')}")
    guest_sh(g, "echo 1 > /sys/kernel/mm/fphint/host_policy")


def suite_upstream(accel, logdir):
    """fphint.enabled=0: stock page_reporting still returns memory."""
    with open(os.path.join(logdir, "upstream.log"), "w") as log:
        g = vm.boot("upstream", accel, 300, append="fphint.enabled=0", log=log)
    g.save_rss(os.path.join(logdir, "upstream-rss.csv"))
    report(g.seen("@@DONE rc=0"), "upstream: guest scenario ran to the end")
    # Stock reporting needs ~7-10 s; a generous bound shows the path works.
    pts = burst_checks(g, "upstream", 0.50, 14, "upstream: stock page_reporting with fphint.enabled=0")
    check_console(g, "upstream")
    curves["upstream"] = pts


def suite_bench_quick(accel, logdir):
    """The bench harness end to end in its quick mode: artefacts, schema,
    and numbers present.  Speed is never asserted here."""
    import json
    import statistics
    import subprocess
    out = os.path.join(vm.BUILD, "bench-quick")
    env = dict(os.environ, BENCH_QUICK="1", BENCH_OUT=out)
    rc = subprocess.run([sys.executable, os.path.join(vm.TOP, "bench", "run.py")],
                        env=env, stdout=subprocess.DEVNULL).returncode
    report(rc == 0, "bench-quick: bench/run.py completed")
    try:
        doc = json.load(open(os.path.join(out, "latest.json")))
    except (OSError, ValueError) as e:
        report(False, f"bench-quick: latest.json readable ({e})")
        return
    report(set(doc) >= {"machine", "accel", "results"} and doc["accel"] in ("tcg", "kvm"),
           "bench-quick: latest.json has machine, accel, results")
    keys = {"scenario", "config", "t50_s", "t90_s", "t95_s", "returned_pct_at",
            "returned_pct_5s", "ops_per_s", "ops_ratio_vs_off", "reports",
            "reported_bytes", "qemu_cpu_s", "reused_pages", "reused_ratio",
            "qemu_cpu_per_op_s", "reports_per_gib", "blocks_per_gib"}
    rs = doc["results"]
    report(rs and all(keys <= set(r) for r in rs), "bench-quick: every result has the schema's fields")
    by = {(r["scenario"], r["config"]): r for r in rs}
    need = [("burst", "fphint-default", "t90_s"), ("burst", "off", "returned_pct_at"),
            ("fragmented", "fphint-default", "returned_pct_5s"),
            ("frag4k", "fphint-default", "returned_pct_5s"),
            ("frag4k", "fphint-default", "returned_pct_at"),
            ("frag4k", "fphint-default", "memfree_check"),
            ("churn", "off", "ops_per_s"), ("churn", "fphint-default", "ops_ratio_vs_off"),
            ("churn", "fphint-default", "reused_pages"),
            ("churn", "fphint-default", "qemu_cpu_per_op_s"),
            ("reuse", "fphint-default", "retouch_s")]
    for scn, cfg, k in need:
        report(by.get((scn, cfg), {}).get(k) is not None, f"bench-quick: {scn}/{cfg} measured {k}")
    # The control really is a control: no hinting returns nothing.
    off_at = (by.get(("burst", "off"), {}).get("returned_pct_at") or {}).get("2")
    report(off_at is not None and off_at < 10, f"bench-quick: 'off' returned {off_at} % of a burst (< 10)")
    # frag4k really freed its pages (MemFree grew by most of what it freed).
    mf = by.get(("frag4k", "fphint-default"), {}).get("memfree_check")
    report(mf is not None and mf > 0.8, f"bench-quick: frag4k freed what it says (memfree_check {mf} > 0.8)")
    # Churn in pairs: one ratio per pair against that pair's own off boot.
    ch = by.get(("churn", "fphint-default"), {})
    pr = ch.get("ops_ratio_pairs")
    report(isinstance(pr, list) and len(pr) == ch.get("pairs") >= 1
           and ch.get("ops_ratio_vs_off") == round(statistics.median(pr), 4),
           f"bench-quick: churn ratio is the median of {ch.get('pairs')} per-pair ratios {pr}")
    # In-guest A/B: every state measured in every round, a bootstrap interval
    # around the median of the rounds, off against itself exactly 1.
    ab = by.get(("churnab", "fphint-default"), {})
    st = ab.get("ab") or {}
    report(set(st) == {"off", "null", "on"} and
           all(a["windows"] == ab.get("ab_rounds") and a["ops_per_s"] for a in st.values()),
           f"bench-quick: churnab measured off, null and on in each of {ab.get('ab_rounds')} rounds")
    on = st.get("on") or {}
    ci = on.get("ops_ratio_ci95")
    report(isinstance(ci, list) and len(ci) == 2 and on.get("ops_ratio_vs_off") is not None
           and ci[0] <= on["ops_ratio_vs_off"] <= ci[1]
           and (st.get("off") or {}).get("ops_ratio_vs_off") == 1.0,
           f"bench-quick: churnab on/off {on.get('ops_ratio_vs_off')} inside its interval {ci}")
    report(all(k in on and on[k] is not None for k in ("reports", "reported_bytes", "reused_pages",
                                                        "qemu_cpu_per_op_s")),
           "bench-quick: churnab counted reports, bytes, reused pages and QEMU CPU per op")
    report(doc.get("boots") == sum(sum(v.values()) for v in doc.get("plan", {}).values())
           + sum((doc.get("plan") or {}).get("churn", {}).values()),
           f"bench-quick: {doc.get('boots')} boots, as the plan says (churn: two per pair)")
    for f in ("latest.md", "burst.png", "fragmented.png", "frag4k.png"):
        report(os.path.getsize(os.path.join(out, f)) > 0 if os.path.exists(os.path.join(out, f)) else False,
               f"bench-quick: {f} written")


def suite_static(accel, logdir):
    """No guest: what the uapi header feeds (ABI doc, netlink spec),
    checkpatch, fphintctl's own tests."""
    static_abi()
    static_hypercall_abi()
    static_report_status_bit()
    static_checkpatch()
    static_netlink_spec()
    static_cli_local()


def static_abi():
    """Documentation and CLI-facing names come from the uapi header."""
    src = open(os.path.join(vm.TOP, "kernel/include/uapi/linux/fphint.h")).read()
    abi = open(os.path.join(vm.TOP, "Documentation/ABI/testing/sysfs-kernel-mm-fphint")).read()
    tun = re.findall(r"X\((\w+),\s*(\w+),\s*\d+", src)
    block = src[src.index("#define FPHINT_STATS(X)"):src.index("enum fphint_stat {")]
    stats = re.findall(r"X\((\w+),\s*(\w+)\)", block)
    missing = [n for _, n in tun if f"/sys/kernel/mm/fphint/{n}\n" not in abi]
    missing += [n for _, n in stats if f"/sys/kernel/mm/fphint/stats/{n}\n" not in abi]
    report(tun and stats and not missing,
           f"static: ABI documents every uapi tunable and counter{' (missing: ' + ', '.join(missing) + ')' if missing else ''}")
    # Range and default as the header has them, so the two cannot drift.
    wrong = []
    for m in re.finditer(r"X\(\w+,\s*(\w+),\s*(\d+),\s*(\d+),\s*(\d+)\)", src):
        name, dflt, lo, hi = m.groups()
        entry = abi.split(f"/sys/kernel/mm/fphint/{name}\n", 1)[-1].split("What:", 1)[0]
        if f"Decimal, {lo} to {hi}, default {dflt}." not in " ".join(entry.split()):
            wrong.append(name)
    report(tun and not wrong,
           f"static: ABI ranges and defaults match the uapi header{' (differ: ' + ', '.join(wrong) + ')' if wrong else ''}")


def static_hypercall_abi():
    """The report hypercall's ABI: QEMU's copy (qemu/patches/0003-*, added
    lines of include/hw/virtio/fphint-hypercall.h) defines every constant of
    the uapi header with the same value, and the feature bit agrees."""
    def defines(text):
        out = {}
        for m in re.finditer(r"^#define\s+(KVM_HC_\w+|FPHINT_HC_\w+|VIRTIO_BALLOON_F_FPHINT_HYPERCALL)"
                             r"\s+(\S.*?)\s*(?:/\*.*)?$", text, re.M):
            val = re.sub(r"_AC\((\w+),\s*\w+\)", r"\1", m.group(2))
            val = re.sub(r"(?<=[0-9a-fA-F])U?L{0,2}$", "", val)
            try:
                out[m.group(1)] = int(val, 0)
            except ValueError:
                pass        # function-like macros
        return out
    uapi = defines(open(os.path.join(vm.TOP, "kernel/include/uapi/linux/fphint_hypercall.h")).read())
    patch = os.path.join(vm.TOP, "qemu/patches/0003-virtio-balloon-fphint-report-hypercall.patch")
    added, cur = [], None
    for line in open(patch).read().splitlines():
        if line.startswith("+++ "):
            cur = line[4:].split()[0]
        elif line.startswith("+") and cur:
            added.append((cur, line[1:]))
    qemu = defines("\n".join(l for f, l in added if f.endswith("include/hw/virtio/fphint-hypercall.h")))
    bit = defines("\n".join(l for f, l in added if f.endswith("standard-headers/linux/virtio_balloon.h")))
    differ = sorted(k for k in uapi if qemu.get(k) != uapi[k])
    report(len(uapi) >= 19 and not differ,
           f"static: QEMU's copy of fphint_hypercall.h matches the uapi header ({len(uapi)} constants"
           f"{', differ or missing: ' + ', '.join(differ) if differ else ''})")
    report(uapi.get("KVM_HC_FPHINT_REPORT", 32) < 31,
           f"static: KVM_HC_FPHINT_REPORT {uapi.get('KVM_HC_FPHINT_REPORT')} fits the int mask of "
           "KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL) (below 31)")
    report(bit.get("VIRTIO_BALLOON_F_FPHINT_HYPERCALL") == 22,
           f"static: QEMU offers the hypercall as virtio-balloon feature bit 22 "
           f"({bit.get('VIRTIO_BALLOON_F_FPHINT_HYPERCALL')})")


def static_report_status_bit():
    """VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS: the guest's driver patch and
    QEMU's patch add the same bit, 21, clear of the hypercall's and the
    policy's."""
    def bit(path):
        m = re.search(r"^\+#define\s+VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS\s+(\d+)",
                      open(os.path.join(vm.TOP, path)).read(), re.M)
        return int(m.group(1)) if m else None
    guest = bit("kernel/patches/0007-virtio_balloon-fphint-report-status.patch")
    host = bit("qemu/patches/0004-virtio-balloon-fphint-report-status.patch")
    report(guest == host == 21,
           f"static: the report status feature bit is 21 on both sides (guest {guest}, QEMU {host})")


def static_checkpatch():
    """The 6.1 tree's checkpatch.pl on kernel/ sources and patches (scripts/checkpatch.sh)."""
    import subprocess
    p = subprocess.run([os.path.join(vm.TOP, "scripts/checkpatch.sh")], capture_output=True, text=True)
    last = (p.stdout.strip().splitlines() or [p.stderr.strip()])[-1]
    report(p.returncode == 0, f"static: {last}")
    if p.returncode:
        print_tail(p.stdout + p.stderr, 20)


def static_netlink_spec():
    """The netlink YAML spec against the uapi header (scripts/netlink-spec-check.py)."""
    rc, n, out = run_tap("static", [sys.executable, os.path.join(vm.TOP, "scripts/netlink-spec-check.py")])
    if rc and not n:
        report(False, "static: scripts/netlink-spec-check.py ran")
    if rc:
        print_tail(out, 10)


def static_cli_local():
    """fphintctl's own tests, no kernel needed: argument and profile
    validation, parsers fed kernel-like messages, golden output, man page."""
    rc, n, out = run_tap("cli-local", ["make", "-s", "-C", os.path.join(vm.TOP, "cli"),
                                       f"BUILD={os.path.join(vm.BUILD, 'cli')}", "test"])
    report(rc == 0 and n > 0, f"cli-local: make -C cli test passed ({n} cases)")
    if rc:
        print_tail(out, 10)


def print_tail(text, lines):
    """The last @lines of a failed command's output, as TAP comments."""
    print("\n".join("#   " + l for l in text.splitlines()[-lines:]))


# The suites, in the order they run: name (check.py NAME), function
# (accel, logdir), what it checks.  A new suite is its function (here, or in
# a check_NAME.py that imports from checklib) and one line in this table.
SUITES = [
    ("static", suite_static, "no guest: uapi header vs ABI doc and netlink spec, checkpatch, fphintctl's own tests"),
    ("selftest", suite_selftest, "KUnit at boot, the sysfs and netlink kselftests, the runtime switch storm"),
    ("runtime", suite_runtime, "fphint enabled at runtime after a fphint.enabled=0 boot, via sysfs and netlink"),
    ("hotplug", suite_hotplug, "balloon plugged and unplugged over QMP: transport null -> virtio -> null"),
    ("storm-hotplug", suite_storm_hotplug, "the switch storm while the host unplugs and plugs the balloon"),
    ("initfail", suite_initfail, "fphint_init() failing at each step unwinds; stock page_reporting takes over"),
    ("cli", suite_cli, "fphintctl in the guest (golden output, errors, monitor) and from the host (QMP, agent)"),
    ("faults", suite_faults, "injected report failures, time-outs, late acks, unbind mid-report"),
    ("lowmem", suite_lowmem, "hinting under memory pressure: OOM kills, bursts, throttling"),
    ("hostcheck", suite_hostcheck, "a host that acks but keeps memory (hugetlbfs) is found out; no false alarm"),
    ("integrity", suite_integrity, "data integrity: pattern checker and stress-ng --verify, hinting aggressive"),
    ("peer", suite_peer, "the kernel's own mm selftests pass alike with hinting off and aggressive"),
    ("qemu", suite_qemu, "patched QEMU: host counters vs guest, host-set policy, migration; stock refuses"),
    ("report-status", suite_report_status, "virtio reports with per-range outcomes (bit 21): negotiated on the patched QEMU, host_discarded_pages = QEMU's discards, DISCARDED_ZERO on anonymous RAM only; off and stock: canary as before"),
    ("hypercall-host", suite_hypercall_host, "patched QEMU: the report hypercall from ring 0 (every outcome, errors, counters) and ring 3 (-KVM_EPERM; #UD when off), Intel and AMD models"),
    ("kvm-host", suite_kvm_host, "no guest: qemu/kvm's host kernel patch applies to 6.1 and arch/x86/kvm builds with it, warning-free"),
    ("fleet", suite_fleet, "fphintctl host over many VMs: --qmp-dir, --libvirt (libvirtd), Prometheus export (promtool, node_exporter, --listen)"),
    ("hypercall", suite_hypercall, "transport hypercall: -ENODEV without bit 22 (stock QEMU); bad-input sweep and 640 MiB end to end on the patched QEMU"),
    ("known-zero", suite_known_zero, "blocks the host confirmed zero skip the guest's zeroing; verification finds none not zero, catches a lying host; storm"),
    ("e2e", suite_e2e, "1 GiB freed in a 2 GiB guest leaves QEMU RSS (>= 90 % in 10 s), stock and patched QEMU"),
    ("upstream", suite_upstream, "fphint.enabled=0: stock page_reporting still returns memory"),
    ("bench-quick", suite_bench_quick, "bench/run.py in quick mode: artefacts, schema, numbers present"),
    ("density-smoke", suite_density, "bench/density.py quick: two guests cycling at once, off vs fphint-default"),
]


def main():
    args = sys.argv[1:]
    if args == ["--list"]:
        for name, _, what in SUITES:
            print(f"{name:<14} {what}")
        return 0
    unknown = [a for a in args if a not in {name for name, _, _ in SUITES}]
    if unknown:
        print(f"check.py: no suite {', '.join(unknown)} (check.py --list names them)", file=sys.stderr)
        return 2
    logdir = os.path.join(vm.BUILD, "logs")
    os.makedirs(logdir, exist_ok=True)
    accel, why = vm.pick_accel()
    print(f"# accelerator: {accel.upper()} ({why})", flush=True)
    print(f"# kernel: {vm.VMLINUX}", flush=True)
    for q in ("stock", "patched"):
        print(f"# QEMU {vm.describe_qemu(q)}", flush=True)
    for name, suite, _ in SUITES:
        if not args or name in args:
            suite(accel, logdir)
    for name, pts in curves.items():
        if pts:
            c = vm.curve_times(pts)
            print(f"# {name}: t90 {c['t90'] if c['t90'] is None else round(c['t90'], 2)} s, "
                  f"t95 {c['t95'] if c['t95'] is None else round(c['t95'], 2)} s, "
                  f"{c['at_1s']:.1%} at 1 s ({accel.upper()})")
    for name, val in figures.items():
        print(f"# {name}: {val}")
    passed = sum(1 for ok, _, s in results if ok and not s)
    failed = sum(1 for ok, _, _ in results if not ok)
    skipped = sum(1 for ok, _, s in results if ok and s)
    print(f"# logs: {logdir}")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
