#!/usr/bin/env python3
"""make demo: a 2 GiB guest frees 1 GiB; QEMU's RSS on the host, sampled
every 50 ms, next to fphint's counters read in the guest, `fphintctl -j
stats` in the guest before and after, and `fphintctl host --qmp SOCKET
stats` on the host while the guest holds the memory and after it freed it.
Then the same burst on the same kernel booted with fphint.enabled=0 (stock
page_reporting).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
import fphint_vm as vm  # noqa: E402

MIB = 1 << 20


def timeline(g, phase, step=0.25, until=6.0):
    got = vm.burst_curve(g, phase)
    if not got:
        print(f"  ({phase}: no burst seen; see the log)")
        return None
    pts, freed_at, base, size = got
    timed = [(t - freed_at, s) for t, s in vm.stats_on_host_clock(g)]
    stats = [(t, s) for t, s in timed if t >= -0.5]
    before = vm.sample_before(timed, 0, inclusive=True) or (stats[0][1] if stats else None)
    print(f"  {'t(s)':>5} {'QEMU RSS':>9} {'returned':>9} | {'reported':>9} {'reports':>7} "
          f"{'captured':>8} {'dups':>7} {'stale':>6} {'throttled':>9}")
    t = 0.0
    while t <= until + 1e-9:
        kib = g.rss_at(freed_at + t)
        s = next((s for ts, s in reversed(stats) if ts <= t), None)
        row = f"  {t:5.2f} {kib / 1024 if kib else 0:7.0f}Mi {vm.frac_at(pts, t):8.1%} |"
        if s and before and "reported_bytes" in s:
            d = vm.counter_delta(before, s)
            row += (f" {d['reported_bytes'] / MIB:7.0f}Mi {d['reports']:7d} {d['captured']:8d}"
                    f" {d['duplicates']:7d} {d['stale']:6d} {d['throttled']:9d}")
        print(row)
        t += step
    return pts


def summary(name, pts):
    if not pts:
        return
    c = vm.curve_times(pts)
    fmt = lambda x: "never" if x is None else f"{x:.2f} s"  # noqa: E731
    print(f"  {name:<28} t90 {fmt(c['t90']):>8}   t95 {fmt(c['t95']):>8}   "
          f"at 1 s {c['at_1s']:6.1%}   at 10 s {c['at_10s']:6.1%}")


def main():
    logdir = os.path.join(vm.BUILD, "logs")
    os.makedirs(logdir, exist_ok=True)
    accel, why = vm.pick_accel()
    print(f"accelerator: {accel.upper()} ({why})")
    # The patched QEMU (make qemu) counts what it discards; stock if missing.
    qemu = "patched" if os.access(vm.PATCHED_QEMU, os.X_OK) else "stock"
    print(f"QEMU {vm.describe_qemu(qemu)}")
    print("\n== fphint, default policy (2 GiB guest frees 1 GiB) ==")
    ctl = os.path.join(vm.BUILD, "cli", "fphintctl")
    host = {}
    with open(os.path.join(logdir, "demo-fphint.log"), "w") as log:
        g = vm.Guest("e2e", accel, log=log, qmp=True, qemu=qemu).start()
        deadline = time.monotonic() + 300
        # Read the VM from the host while the guest holds 1 GiB, and after.
        while g.proc.poll() is None and time.monotonic() < deadline and "freed" not in host:
            evs = [e["_what"] + ":" + e.get("name", "") for _, e in g.events()]
            phase = evs[evs.index("phase:fphint"):] if "phase:fphint" in evs else []
            due = None
            if "holding" not in host and phase and phase[-1] == "touched:":
                due = "holding"
            elif "freed" not in host and "host-turn:" in phase:
                due = "freed"
            if due:
                host[due] = subprocess.run([ctl, "host", "--qmp", g.qmp_path, "stats"],
                                           capture_output=True, text=True).stdout
                host[due + "-counters"] = vm.host_counters(g)
            time.sleep(0.05)
        g.wait(300)
    for _, text in g.lines:
        if text.startswith("@@CONFIG"):
            print("  " + text[9:])
    blocks = {k: text.rstrip("\n").split("\n") for k, (text, _) in g.out_blocks().items()}
    print("\n-- in the guest, before: fphintctl -j -p stats --")
    print("\n".join(blocks.get("stats-before", ["(missing)"])))
    ours = timeline(g, "fphint")
    print("\n-- in the guest, after: fphintctl -j -p stats --")
    print("\n".join(blocks.get("stats-after", ["(missing)"])))
    for key, label in (("holding", "while the guest holds 1 GiB"), ("freed", "after the guest freed it")):
        print(f"\n-- on the host, {label}: fphintctl host --qmp {g.qmp_path or 'SOCKET'} stats --")
        print(host.get(key, "(not captured)").rstrip())
    print("\n== stock page_reporting (same kernel, fphint.enabled=0) ==")
    with open(os.path.join(logdir, "demo-upstream.log"), "w") as log:
        u = vm.boot("upstream", accel, 300, append="fphint.enabled=0", log=log)
    theirs = timeline(u, "upstream", step=1.0, until=12.0)
    print(f"\n== summary ({accel.upper()}) ==")
    summary("fphint default", ours)
    summary("upstream page_reporting", theirs)
    ctl = vm.burst_curve(g, "control")
    if ctl:
        summary("no hinting (control)", ctl[0])
    # Closing note: what the host did with what the guest reported.
    # Across the burst: the host's counters while the guest held 1 GiB and
    # after it freed it, the guest's reported_bytes before and after
    # (reported_bytes also counts what went to the null transport at boot).
    import json
    guest = []
    for b in ("stats-before", "stats-after"):
        try:
            guest.append(json.loads("\n".join(blocks.get(b, []))).get("reported_bytes"))
        except ValueError:
            guest.append(None)
    h0, h1 = host.get("holding-counters"), host.get("freed-counters")
    if h0 and h1:
        d = vm.counter_delta(h0, h1)
        kept = sum(v for k, v in d.items() if "skipped" in k or "failed" in k)
        g_d = f"{(guest[1] - guest[0]) / MIB:.1f} MiB" if None not in guest else "?"
        print(f"\nhost counters, {qemu} QEMU, across the burst: requested "
              f"{d['report_bytes_requested'] / MIB:.1f} MiB in {d['report_reports']} reports, "
              f"discarded {d['report_bytes_discarded'] / MIB:.1f} MiB in "
              f"{d['report_discard_ns'] / 1e6:.1f} ms, kept {kept / MIB:.1f} MiB; "
              f"guest reported_bytes +{g_d}")
    else:
        print(f"\nhost counters: unavailable ({qemu} QEMU)")
    print(f"\nconsole logs: {logdir}")


if __name__ == "__main__":
    main()
