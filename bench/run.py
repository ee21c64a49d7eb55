#!/usr/bin/env python3
"""make bench: fphint against stock page reporting and no hinting, one run.

Boots one 2 GiB / 2 vCPU guest per (configuration, scenario, repetition),
samples QEMU's RSS and CPU time on the host every 50 ms and the guest's
counters, and writes bench/results/latest.{json,md} and PNG plots.

BENCH_QUICK=1: one repetition, short scenarios, three configurations — only
to show the harness works (make check uses it); never read speed from it.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
import fphint_vm as vm  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "results"))
BENCH_VMLINUX = os.path.join(vm.BUILD, "bench", "kernel-out", "vmlinux")
GIB = 1 << 30

# name -> (kernel, kernel command line, device profile, fphint sysfs writes)
CONFIGS = {
    "off": ("main", "fphint.enabled=0", "balloon", ""),
    "upstream": ("main", "fphint.enabled=0", "reporting", ""),
    "upstream-order0": ("main", "fphint.enabled=0", "reporting", ""),
    "upstream-fast": ("bench", "fphint.enabled=0", "reporting", ""),
    "fphint-default": ("main", "", "reporting", ""),
    # The report hypercall instead of the virtio queue (patched QEMU).
    "fphint-hypercall": ("main", "", "hypercall", "transport:hypercall"),
    # The same with the known-zero switch off: the guest zeroes what the
    # host confirmed zero again (issue 15's comparison).
    "fphint-hypercall-kz0": ("main", "", "hypercall", "transport:hypercall,known_zero:0"),
}
# Device profiles only the patched QEMU has (qemu/patches).
PATCHED_PROFILES = {"hypercall"}
SCENARIOS = ["burst", "fragmented", "churn", "reuse"]
# Quick mode checks the harness, not the numbers: each scenario runs only
# the configurations make check reads (7 boots instead of 12).
QUICK_ONLY = {"burst": ("off", "upstream", "fphint-default"), "fragmented": ("fphint-default",),
              "churn": ("off", "fphint-default"), "reuse": ("fphint-default",)}
if QUICK:
    CONFIGS = {k: CONFIGS[k] for k in ("off", "upstream", "fphint-default")}
    REPS = {"burst": 1, "fragmented": 1, "churn": 1, "reuse": 1}
    SECS = {"burst": 4, "fragmented": 5, "churn": 4, "reuse": 3}
else:
    REPS = {"burst": 2, "fragmented": 2, "churn": 3, "reuse": 3}
    SECS = {"burst": 10, "fragmented": 6, "churn": 15, "reuse": 10}
POINTS = ["0.5", "1", "2", "5", "10"]
PROFILE_CONFIGS = {}


def profiles():
    """policies/*.policy as configurations fphint-NAME (key = value lines)."""
    pdir = os.path.join(HERE, "..", "policies")
    out = {}
    if not os.path.isdir(pdir) or QUICK:
        return out
    for fn in sorted(os.listdir(pdir)):
        if not fn.endswith(".policy") or fn == "default.policy":
            continue
        sets = []
        for line in open(os.path.join(pdir, fn)):
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                sets.append(f"{k}:{v}")
        out["fphint-" + fn[:-7]] = ("main", "", "reporting", ",".join(sets))
    return out


def run_one(cfg, scn, accel, rep):
    kernel, append, profile, sets = CONFIGS[cfg]
    append += f" fphint.cfg={cfg} fphint.scn={scn} fphint.secs={SECS[scn]}"
    if sets:
        append += f" fphint.set={sets}"
    logdir = os.path.join(vm.BUILD, "logs", "bench")
    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, f"{cfg}-{scn}-{rep}.log"), "w") as log:
        g = vm.Guest("bench", accel, append=append, profile=profile, log=log,
                     qemu="patched" if profile in PATCHED_PROFILES else "stock")
        if kernel == "bench":
            g.cmd[g.cmd.index(vm.VMLINUX)] = BENCH_VMLINUX
        g.start().wait(180)
    g.save_rss(os.path.join(logdir, f"{cfg}-{scn}-{rep}-rss.csv"))
    if g.seen("@@ERROR") or not g.seen("@@DONE rc=0"):
        print(f"  {cfg}/{scn}: guest failed, see {logdir}", file=sys.stderr)
    return g


def counters(g, t0, t1=None):
    """reports and reported_bytes from the guest's counters between host times t0 and t1."""
    st = vm.stats_on_host_clock(g)
    b = vm.sample_before(st, t0, inclusive=True) or (st[0][1] if st else None)
    e = vm.sample_before(st, t1, inclusive=True) if t1 is not None else (st[-1][1] if st else None)
    if not b or not e or "reports" not in e:
        return None, None, None
    d = vm.counter_delta(b, e)
    return d["reports"], d["reported_bytes"], d.get("hypercalls")


def measure(cfg, scn, g):
    r = {"scenario": scn, "config": cfg, "t50_s": None, "t90_s": None, "t95_s": None,
         "returned_pct_at": None, "returned_pct_5s": None, "ops_per_s": None,
         "ops_ratio_vs_off": None, "reports": None, "reported_bytes": None,
         "qemu_cpu_s": None, "retouch_s": None, "memfree_check": None, "hypercalls": None,
         "returned_gib": None}
    off = vm.clock_offset(g)
    if scn in ("burst", "fragmented", "reuse"):
        got = vm.burst_curve(g, scn)
        if not got:
            return r
        pts, t0, base, size = got
        end = t0 + (SECS["burst"] if scn == "burst" else 5)
        # Same window as the RSS figures (reuse: until the re-touch).
        r["reports"], r["reported_bytes"], r["hypercalls"] = counters(
            g, t0, end if scn != "reuse" else None)
        r["qemu_cpu_s"] = g.cpu_between(t0, end)
        if scn == "burst":
            for k, f in (("t50_s", 0.5), ("t90_s", 0.9), ("t95_s", 0.95)):
                t = vm.time_to(pts, f)
                r[k] = None if t is None else round(t, 3)
            r["returned_pct_at"] = {p: round(100 * vm.frac_at(pts, float(p)), 1) for p in POINTS}
            r["returned_gib"] = round(vm.frac_at(pts, SECS["burst"]) * size / GIB, 3)
        if scn == "fragmented":
            r["returned_pct_5s"] = round(100 * vm.frac_at(pts, 5), 1)
            ev = {e["_what"]: e for _, e in g.events()}
            if "freeing" in ev and "freed" in ev:
                grew = (int(ev["freed"]["memfree_kib"]) - int(ev["freeing"]["memfree_kib"])) * 1024
                r["memfree_check"] = round(grew / size, 3)
        if scn == "reuse":
            r["retouch_s"] = g.results().get("retouch_s")
    elif scn == "churn":
        res = g.results()
        if "churn_ops" in res:
            r["ops_per_s"] = round(res["churn_ops"] / res["seconds"], 2)
        evs = {e["_what"]: float(e["t"]) + off for _, e in g.events()}
        if "churn-start" in evs and "churn-end" in evs:
            r["qemu_cpu_s"] = g.cpu_between(evs["churn-start"], evs["churn-end"])
            r["reports"], r["reported_bytes"], r["hypercalls"] = counters(g, evs["churn-start"])
    return r


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def combine(runs):
    """Median over repetitions, field by field; spread kept for the table."""
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) or v is None:
            out[k] = median([r[k] for r in runs])
        elif isinstance(v, dict):
            out[k] = {p: median([r[k][p] for r in runs if r[k]]) for p in v}
    out["repetitions"] = len(runs)
    if runs[0]["scenario"] == "churn":
        out["ops_per_s_runs"] = [r["ops_per_s"] for r in runs]
    return out


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    return {"cpu": cpu, "cores": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
            "host_kernel": platform.release(), "qemu": qemu,
            "guest": "2 GiB / 2 vCPU, Linux 6.1 (Debian linux-source-6.1) + fphint"}


def fmt(x, unit="", nd=2):
    return "–" if x is None else f"{x:.{nd}f}{unit}"


def table(results, accel):
    by = {(r["scenario"], r["config"]): r for r in results}
    cfgs = list(dict.fromkeys(r["config"] for r in results))
    lines = [f"Accelerator: **{accel.upper()}** — medians over repetitions "
             f"(burst {REPS['burst']}, fragmented {REPS['fragmented']}, churn {REPS['churn']}, "
             f"reuse {REPS['reuse']}; policy profiles once each){' — QUICK MODE, not a measurement' if QUICK else ''}", "",
             "| config | burst t50 | t90 | t95 | @0.5s | @1s | @2s | @5s | @10s | exits/GiB "
             "| frag @5s | churn ops/s | vs off | churn reports | reuse retouch | qemu cpu (burst) "
             "| qemu cpu s/GiB returned |",
             "|" + "---|" * 17]
    for c in cfgs:
        b = by.get(("burst", c), {})
        f = by.get(("fragmented", c), {})
        ch = by.get(("churn", c), {})
        ru = by.get(("reuse", c), {})
        at = b.get("returned_pct_at") or {}
        # Exits to the host per GiB reported in the burst: one notification
        # per virtio report, one per call for the hypercall.
        rpg = cpg = None
        exits = b.get("hypercalls") if CONFIGS.get(c, ("", "", ""))[2] == "hypercall" else b.get("reports")
        if exits is not None and b.get("reported_bytes"):
            rpg = exits / (b["reported_bytes"] / GIB)
        if b.get("qemu_cpu_s") is not None and (b.get("returned_gib") or 0) > 0.05:
            cpg = b["qemu_cpu_s"] / b["returned_gib"]
        lines.append("| " + " | ".join([
            c, fmt(b.get("t50_s"), " s"), fmt(b.get("t90_s"), " s"), fmt(b.get("t95_s"), " s"),
            *[fmt(at.get(p), " %", 1) for p in POINTS], fmt(rpg, "", 1),
            fmt(f.get("returned_pct_5s"), " %", 1), fmt(ch.get("ops_per_s"), "", 2),
            fmt(ch.get("ops_ratio_vs_off"), "", 3), fmt(ch.get("reports"), "", 0),
            fmt(ru.get("retouch_s"), " s", 2), fmt(b.get("qemu_cpu_s"), " s", 2),
            fmt(cpg, " s", 3)]) + " |")
    lines += ["", "exits/GiB: notifications per GiB reported in the burst (one per virtio "
              "report, one per call for fphint-hypercall). qemu cpu: QEMU's user+system time "
              "over the burst's watch window (under TCG it includes the vCPUs themselves).",
              "", "Blank burst times: that fraction never left QEMU's RSS within the watch "
              "window. Churn: ops/s of a mmap/touch/munmap 64 MiB loop on every vCPU; "
              "the runs are listed in latest.json."]
    return "\n".join(lines) + "\n"


def plot_lines(png, series, settings):
    """One PNG (gnuplot) of named series {name: [(x, y)]}; @settings: its
    title, labels, ranges and key."""
    dat = png[:-len(".png")] + ".dat"
    with open(dat, "w") as f:
        for name, pts in series.items():
            f.write(f'"{name}"\n')
            for x, y in pts:
                f.write(f"{x:.3f} {y:.3f}\n")
            f.write("\n\n")
    script = (f'set terminal pngcairo size 900,500; set output "{png}"; {settings}; set grid;'
              f'plot for [i=0:{len(series) - 1}] "{dat}" index i using 1:2 with lines lw 2 '
              'title columnheader(1)')
    subprocess.run(["gnuplot", "-e", script], check=False)
    os.unlink(dat)


def plots(curves):
    """One PNG per scenario: fraction of the freed memory gone from QEMU RSS."""
    for scn, per_cfg in curves.items():
        plot_lines(os.path.join(OUT, f"{scn}.png"),
                   {cfg: [(t, 100 * frac) for t, frac in pts] for cfg, pts in per_cfg.items()},
                   f'set title "{scn}: freed memory gone from QEMU RSS"; '
                   'set xlabel "seconds after the guest frees"; set ylabel "% returned"; '
                   'set yrange [-5:105]; set key bottom right')


def main():
    global CONFIGS, SCENARIOS
    os.makedirs(OUT, exist_ok=True)
    PROFILE_CONFIGS.update(profiles())
    CONFIGS.update(PROFILE_CONFIGS)
    # BENCH_CONFIGS / BENCH_SCENARIOS: comma-separated subsets, for tuning.
    if os.environ.get("BENCH_CONFIGS"):
        CONFIGS = {k: CONFIGS[k] for k in os.environ["BENCH_CONFIGS"].split(",")}
    if os.environ.get("BENCH_SCENARIOS"):
        SCENARIOS = os.environ["BENCH_SCENARIOS"].split(",")
    if any(k == "bench" for k, *_ in CONFIGS.values()) and not os.path.exists(BENCH_VMLINUX):
        sys.exit(f"missing {BENCH_VMLINUX}: run FPHINT_VARIANT=bench scripts/kernel-build.sh")
    accel, why = vm.pick_accel()
    print(f"accelerator: {accel.upper()} ({why})", flush=True)
    started = time.time()
    raw = {}
    curves = {}
    cfgs = list(CONFIGS)
    for scn in SCENARIOS:
        for rep in range(REPS[scn]):
            # Interleave configurations, rotating the order every repetition.
            order = cfgs[rep % len(cfgs):] + cfgs[:rep % len(cfgs)]
            for cfg in order:
                # Profiles run once per scenario: five of them at full
                # repetitions would take make bench past 25 minutes.
                if rep and cfg in PROFILE_CONFIGS:
                    continue
                if QUICK and cfg not in QUICK_ONLY.get(scn, cfgs):
                    continue
                g = run_one(cfg, scn, accel, rep)
                r = measure(cfg, scn, g)
                raw.setdefault((scn, cfg), []).append(r)
                if rep == 0 and scn in ("burst", "fragmented"):
                    got = vm.burst_curve(g, scn)
                    if got:
                        curves.setdefault(scn, {})[cfg] = [p for p in got[0] if p[0] <= 12]
                print(f"  {scn:<10} {cfg:<16} rep {rep}: " + ", ".join(
                    f"{k}={v}" for k, v in r.items()
                    if k not in ("scenario", "config") and v is not None), flush=True)
    results = [combine(runs) for runs in raw.values()]
    off = {r["scenario"]: r for r in results if r["config"] == "off"}
    for r in results:
        o = off.get(r["scenario"])
        if r["scenario"] == "churn" and o and o["ops_per_s"] and r["ops_per_s"] is not None:
            r["ops_ratio_vs_off"] = round(r["ops_per_s"] / o["ops_per_s"], 3)
    doc = {"machine": machine(), "accel": accel, "quick": QUICK,
           "duration_s": round(time.time() - started), "results": results}
    with open(os.path.join(OUT, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = table(results, accel)
    with open(os.path.join(OUT, "latest.md"), "w") as f:
        f.write(md)
    plots(curves)
    print("\n" + md)
    print(f"wrote {OUT}/latest.json, latest.md, " +
          ", ".join(f"{s}.png" for s in curves) + f" in {doc['duration_s']} s")


if __name__ == "__main__":
    main()
