#!/usr/bin/env python3
"""make density: how many 2 GiB guests a host holds, per hinting configuration.

K guests of 2 GiB (one vCPU each) run at once.  Each keeps a small working
set and, once a period, grows to a peak, holds it and shrinks back
(memhog cycle); guest i starts its first peak i/K of a period later, so
peaks are staggered and at most one or two overlap.  The host samples every
QEMU's RSS (50 ms) and reports, per configuration:

  - the peak and the mean of the summed RSS while all guests cycle,
  - the share of each peak gone from QEMU's RSS before the next one,
  - the guests' own slowdown: time to touch a peak against "off",
  - how many such guests a host holds: host memory / (peak summed RSS / K),
    for this host and for the 15 GiB host of the anchor (Lal's v12 series:
    7 guests instead of 2, 3.5x).

Writes bench/results/density.{json,md,png}.  Environment (defaults):
DENSITY_K (4), DENSITY_PERIOD_S (40), DENSITY_CYCLES (3), DENSITY_PEAK_MIB
(1536), DENSITY_BASE_MIB (256), DENSITY_HOLD_S (4), DENSITY_CONFIGS
(off,upstream,upstream-fast,fphint-default), DENSITY_OUT (bench/results).
DENSITY_QUICK=1: two guests, one short cycle, off and fphint-default, for
make check: it shows the harness works, never read figures from it.
"""
import bisect
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (configurations, kernels, machine facts)

vm = bench.vm
GIB = 1 << 30
QUICK = os.environ.get("DENSITY_QUICK") == "1"
ANCHOR_HOST_GIB = 15


def setting(name, default, quick):
    return int(os.environ.get(f"DENSITY_{name}", quick if QUICK else default))


K = setting("K", 4, 2)
PERIOD_S = setting("PERIOD_S", 40, 24)
CYCLES = setting("CYCLES", 3, 1)
PEAK_MIB = setting("PEAK_MIB", 1536, 576)
BASE_MIB = setting("BASE_MIB", 256, 64)
HOLD_S = setting("HOLD_S", 4, 1)
CONFIGS = os.environ.get("DENSITY_CONFIGS", "off,fphint-default" if QUICK else
                         "off,upstream,upstream-fast,fphint-default").split(",")
OUT = os.environ.get("DENSITY_OUT", os.path.join(HERE, "results"))
STEP_S = 0.5


def boot_all(cfg, accel, logdir):
    """Start the K guests of @cfg at once; wait for all of them."""
    kernel, append, profile, sets = bench.CONFIGS[cfg]
    guests = []
    for i in range(K):
        offset = PERIOD_S * i // K
        dens = f"{PEAK_MIB}:{BASE_MIB}:{PERIOD_S}:{offset}:{CYCLES}:{HOLD_S}"
        a = f"{append} fphint.cfg={cfg} fphint.scn=density fphint.dens={dens}"
        if sets:
            a += f" fphint.set={sets}"
        log = open(os.path.join(logdir, f"{cfg}-{i}.log"), "w")
        g = vm.Guest("bench", accel, append=a.strip(), smp=1, profile=profile, log=log)
        if kernel == "bench":
            g.cmd[g.cmd.index(vm.VMLINUX)] = bench.BENCH_VMLINUX
        guests.append((g.start(), log))
    budget = PERIOD_S * (CYCLES + 1) + 240
    for g, log in guests:
        g.wait(max(10, budget - (time.monotonic() - guests[0][0].t0)))
        log.close()
    return [g for g, _ in guests]


def summed_rss(guests):
    """[(seconds, summed RSS bytes)] every STEP_S over the window in which every
    guest runs its cycles: from the last guest's working set being in place
    to the first guest being done (each runs its offset plus CYCLES periods,
    so every guest's every peak falls inside)."""
    starts, ends = [], []
    for g in guests:
        ev = g.events()
        base = [t for t, e in ev if e["_what"] == "base"]
        done = [t for t, e in ev if e["_what"] == "done"]
        if not base or not done:
            return []
        starts.append(g.t0 + base[0])
        ends.append(g.t0 + done[0])
    t, end, out = max(starts), min(ends), []
    series = [([g.t0 + s for s, _ in g.rss], [kib for _, kib in g.rss]) for g in guests]
    t0 = t
    while t <= end:
        total = 0
        for ts, kib in series:
            i = bisect.bisect_right(ts, t) - 1
            if i < 0:
                return []
            total += kib[i] << 10
        out.append((round(t - t0, 2), total))
        t += STEP_S
    return out


def measure(cfg, guests, host_gib):
    r = {"config": cfg, "guests": K, "ran": sum(g.seen("@@RESULT touch_s_mean") for g in guests),
         "peak_sum_gib": None, "mean_sum_gib": None, "returned_pct": None, "touch_s_mean": None,
         "slowdown_vs_off": None, "guests_per_host": None, "guests_per_anchor_host": None,
         "density_vs_off": None}
    pts = summed_rss(guests)
    if pts:
        peak = max(b for _, b in pts)
        r["peak_sum_gib"] = round(peak / GIB, 3)
        r["mean_sum_gib"] = round(sum(b for _, b in pts) / len(pts) / GIB, 3)
        per_guest = peak / K / GIB
        r["guests_per_host"] = round(host_gib / per_guest, 1)
        r["guests_per_anchor_host"] = round(ANCHOR_HOST_GIB / per_guest, 1)
    # Of what each peak added, the share gone from QEMU's RSS by the end of
    # its period (the "rest" event just before the next peak).
    shares = []
    for g in guests:
        ev = g.events()
        peaks = [(t, int(e["bytes"])) for t, e in ev if e["_what"] == "peak"]
        rests = [t for t, e in ev if e["_what"] == "rest"]
        for (tp, extra), tr in zip(peaks, rests):
            a, b = g.rss_at(tp), g.rss_at(tr)
            if a is not None and b is not None and extra:
                shares.append(max(0.0, (a - b) * 1024 / extra))
    if shares:
        r["returned_pct"] = round(100 * sum(shares) / len(shares), 1)
    touches = [g.results().get("touch_s_mean") for g in guests]
    touches = [t for t in touches if t is not None]
    if touches:
        r["touch_s_mean"] = round(sum(touches) / len(touches), 3)
    return r, pts


def table(results, accel, host_gib):
    lines = [f"# Density: {K} guests of 2 GiB, {accel}",
             "",
             f"Each guest keeps {BASE_MIB} MiB, grows to {PEAK_MIB} MiB once every {PERIOD_S} s "
             f"(held {HOLD_S} s), {CYCLES} cycles, peaks staggered by {PERIOD_S / K:.0f} s. "
             f"Summed RSS of the {K} QEMUs while all of them cycle; guests per host = host memory / "
             f"(peak summed RSS / {K}), for this host ({host_gib:.0f} GiB) and the anchor's "
             f"{ANCHOR_HOST_GIB} GiB host (Lal's v12: 7 guests instead of 2, 3.5x).",
             "",
             "| config | peak summed RSS GiB | mean summed RSS GiB | % of each peak returned "
             "| touch s per peak | slowdown vs off "
             f"| guests / {host_gib:.0f} GiB host | guests / {ANCHOR_HOST_GIB} GiB host | density vs off |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| " + " | ".join(str(r[k]) if r[k] is not None else "-" for k in (
            "config", "peak_sum_gib", "mean_sum_gib", "returned_pct", "touch_s_mean", "slowdown_vs_off",
            "guests_per_host", "guests_per_anchor_host", "density_vs_off")) + " |")
    return "\n".join(lines) + "\n"


def plot(curves):
    bench.plot_lines(os.path.join(OUT, "density.png"),
                     {cfg: [(t, b / GIB) for t, b in pts] for cfg, pts in curves.items()},
                     f'set title "{K} guests of 2 GiB: summed QEMU RSS"; '
                     'set xlabel "seconds"; set ylabel "GiB"; set key top right')


def main():
    os.makedirs(OUT, exist_ok=True)
    unknown = [c for c in CONFIGS if c not in bench.CONFIGS]
    if unknown:
        sys.exit(f"density: unknown configuration {', '.join(unknown)} "
                 f"(known: {', '.join(bench.CONFIGS)})")
    accel, why = vm.pick_accel()
    host_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GIB
    logdir = os.path.join(vm.BUILD, "logs", "density")
    os.makedirs(logdir, exist_ok=True)
    started = time.time()
    print(f"density: {K} guests x {len(CONFIGS)} configurations, {CYCLES} cycles of "
          f"{PERIOD_S} s, accelerator {accel.upper()} ({why})", flush=True)
    results, curves = [], {}
    for cfg in CONFIGS:
        guests = boot_all(cfg, accel, logdir)
        r, pts = measure(cfg, guests, host_gib)
        for i, g in enumerate(guests):
            g.save_rss(os.path.join(logdir, f"{cfg}-{i}-rss.csv"))
        if r["ran"] < K:
            print(f"  {cfg}: {K - r['ran']} guest(s) did not finish, see {logdir}", file=sys.stderr)
        results.append(r)
        if pts:
            curves[cfg] = pts
        print(f"  {cfg:<16} " + ", ".join(f"{k}={v}" for k, v in r.items()
                                          if k != "config" and v is not None), flush=True)
    off = next((r for r in results if r["config"] == "off"), None)
    for r in results:
        if off and off["touch_s_mean"] and r["touch_s_mean"] is not None:
            r["slowdown_vs_off"] = round(r["touch_s_mean"] / off["touch_s_mean"], 2)
        if off and off["peak_sum_gib"] and r["peak_sum_gib"]:
            r["density_vs_off"] = round(off["peak_sum_gib"] / r["peak_sum_gib"], 2)
    doc = {"machine": bench.machine(), "accel": accel, "quick": QUICK, "host_gib": round(host_gib, 1),
           "settings": {"guests": K, "period_s": PERIOD_S, "cycles": CYCLES, "peak_mib": PEAK_MIB,
                        "base_mib": BASE_MIB, "hold_s": HOLD_S},
           "duration_s": round(time.time() - started), "results": results}
    with open(os.path.join(OUT, "density.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = table(results, accel, host_gib)
    with open(os.path.join(OUT, "density.md"), "w") as f:
        f.write(md)
    if curves:
        plot(curves)
    print("\n" + md)
    print(f"wrote {OUT}/density.json, density.md, density.png in {doc['duration_s']} s")
    return 0 if all(r["ran"] == K for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
