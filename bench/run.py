#!/usr/bin/env python3
"""make bench: fphint against stock page reporting and no hinting, one run.

Boots one 2 GiB / 2 vCPU guest per (configuration, scenario, repetition),
samples QEMU's RSS and CPU time on the host every 50 ms and the guest's
counters, and writes bench/results/latest.{json,md} and PNG plots.

PLAN says which configuration runs how often in which scenario (bench/
README.md gives the reasons and the time it takes).  churn runs as pairs of
boots with "off" (off first in even pairs, second in odd ones), the ratio
taken per pair; churnab is one boot of churn with fphint switched between
off, null and on in alternating windows.

Environment: BENCH_CONFIGS / BENCH_SCENARIOS (comma-separated subsets),
BENCH_PAIRS (churn pairs per configuration), BENCH_REPS (repetitions of
every other row), BENCH_PROFILES=1 (add policies/*.policy once each),
BENCH_OUT (results directory), BENCH_AB_STATES (churnab's states instead of
off, null and on: space-separated NAME:file=value+file=value, each state
writing every file it depends on, one of them named off).  BENCH_QUICK=1: one repetition, short
scenarios, three configurations -- only to show the harness works (make
check uses it); never read speed from it.
"""
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
import fphint_vm as vm  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "results"))
BENCH_VMLINUX = os.path.join(vm.BUILD, "bench", "kernel-out", "vmlinux")
GIB = 1 << 30
MIB = 1 << 20

# name -> (kernel, kernel command line, device profile, fphint sysfs writes)
CONFIGS = {
    "off": ("main", "fphint.enabled=0", "balloon", ""),
    # churn's A/A control: off paired with off, what the pairs resolve.
    "off-again": ("main", "fphint.enabled=0", "balloon", ""),
    "upstream": ("main", "fphint.enabled=0", "reporting", ""),
    "upstream-order0": ("main", "fphint.enabled=0", "reporting", ""),
    "upstream-fast": ("bench", "fphint.enabled=0", "reporting", ""),
    "fphint-default": ("main", "", "reporting", ""),
    # The report hypercall instead of the virtio queue (patched QEMU).
    "fphint-hypercall": ("main", "", "hypercall", "transport:hypercall"),
    # The same with the known-zero switch off: the guest zeroes what the
    # host confirmed zero again (issue 15's comparison).
    "fphint-hypercall-kz0": ("main", "", "hypercall", "transport:hypercall,known_zero:0"),
    # The virtio queue on the patched QEMU, whose status bytes (bit 21)
    # confirm zeros per range.
    "fphint-virtio-status": ("main", "", "hypercall", ""),
}
# Device profiles only the patched QEMU has (qemu/patches).
PATCHED_PROFILES = {"hypercall"}
SCENARIOS = ["burst", "fragmented", "frag4k", "churn", "churnab", "reuse", "refault"]
# Scenarios whose figures are a curve of memory returned after a free.
CURVES = ("burst", "fragmented", "frag4k")
# scenario -> {configuration: repetitions}; for churn, pairs of boots with
# "off".  Rows that only show "nothing comes back" run once; the
# fragmented ones repeat within a few percent, twice is enough; burst's
# times ride on the guest's own munmap of 1 GiB (0.19-0.39 s from boot to
# boot, whatever the reporter), so the rows its targets compare run three
# times and one slow munmap does not make the median; churn needs its
# pairs to resolve 1 %; the rest says little (bench/README.md).
if QUICK:
    PLAN = {"burst": {"off": 1, "upstream": 1, "fphint-default": 1},
            "fragmented": {"fphint-default": 1}, "frag4k": {"fphint-default": 1},
            "churn": {"fphint-default": 1}, "churnab": {"fphint-default": 1},
            "reuse": {"fphint-default": 1}}
    SECS = {"burst": 4, "fragmented": 5, "frag4k": 3, "churn": 4, "reuse": 3}
    FRAG4K_MIB = 256
    # churnab: window, settle (not measured), rounds of every state
    AB = (1.5, 0.5, 2)
else:
    PLAN = {"burst": {"off": 1, "upstream": 2, "upstream-fast": 3, "fphint-default": 3,
                      "fphint-hypercall": 3},
            "fragmented": {"off": 1, "upstream": 1, "upstream-fast": 2, "fphint-default": 2},
            "frag4k": {"off": 1, "upstream": 1, "upstream-fast": 2, "fphint-default": 2},
            "churn": {"fphint-default": 8, "upstream-fast": 2, "upstream": 2, "off-again": 4},
            "churnab": {"fphint-default": 1},
            # Known-zero (issue 15): confirmed zeros (hypercall) with the
            # switch on and off, against no hinting, upstream and virtio.
            "reuse": {"off": 2, "upstream": 1, "upstream-fast": 2, "fphint-default": 2,
                      "fphint-virtio-status": 2, "fphint-hypercall": 2,
                      "fphint-hypercall-kz0": 2},
            "refault": {"off": 1, "upstream": 1, "fphint-default": 1, "fphint-virtio-status": 1,
                        "fphint-hypercall": 1, "fphint-hypercall-kz0": 1}}
    SECS = {"burst": 10, "fragmented": 10, "frag4k": 10, "churn": 15, "reuse": 10}
    FRAG4K_MIB = 1024
    AB = (4, 1, 8)
AB_STATES_SPEC = os.environ.get("BENCH_AB_STATES", "").split()
AB_STATES = tuple(x.split(":", 1)[0] for x in AB_STATES_SPEC) or ("off", "null", "on")
# churn's counters start this far in (the sample scenario-bench takes then).
CHURN_SETTLE_S = 3
# A churn pair's two guests run at once, one vCPU each, each pinned to a
# host core of its own, the cores swapped this often: what one core does
# to the speed (what else the machine under this one runs there) falls on
# both alike.  Boots one after the other differed by up to 30 % with
# nothing changed (bench/README.md).
PAIR_SWAP_S = 0.5
POINTS = ["0.5", "1", "2", "5", "10"]
BOOTSTRAP = (10000, 16)          # resamples, seed: the same data, the same interval
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


def run_one(cfg, scn, accel, rep, core=None, running=None):
    """Boot @cfg for @scn and wait for it.  @core: one vCPU, pinned to that
    host core, and (guest, core) appended to @running once started (a
    churn pair, run_pair())."""
    kernel, append, profile, sets = CONFIGS[cfg]
    append += f" fphint.cfg={cfg} fphint.scn={scn} fphint.secs={SECS.get(scn, 0)}"
    if scn == "frag4k":
        append += f" fphint.mib={FRAG4K_MIB}"
    if scn == "churnab":
        append += " fphint.ab=" + ":".join(str(x) for x in AB)
        if AB_STATES_SPEC:
            append += " fphint.abs=" + ",".join(AB_STATES_SPEC)
    if sets:
        append += f" fphint.set={sets}"
    logdir = os.path.join(vm.BUILD, "logs", "bench")
    os.makedirs(logdir, exist_ok=True)
    splits = host_thp_splits()
    with open(os.path.join(logdir, f"{cfg}-{scn}-{rep}.log"), "w") as log:
        g = vm.Guest("bench", accel, append=append, profile=profile, log=log,
                     qemu="patched" if profile in PATCHED_PROFILES else "stock",
                     smp=2 if core is None else 1)
        if kernel == "bench":
            g.cmd[g.cmd.index(vm.VMLINUX)] = BENCH_VMLINUX
        if core is not None:
            g.cmd = ["taskset", "-c", str(core)] + g.cmd
        g.start()
        if running is not None:
            running.append((g, core))
        g.wait(180 + (AB[0] * AB[2] * len(AB_STATES) if scn == "churnab" else 0))
    # Host-wide, so only meaningful with the bench alone on the host.
    after = host_thp_splits()
    g.host_thp_splits = None if splits is None or after is None else after - splits
    g.save_rss(os.path.join(logdir, f"{cfg}-{scn}-{rep}-rss.csv"))
    if g.seen("@@ERROR") or not g.seen("@@DONE rc=0"):
        print(f"  {cfg}/{scn}: guest failed, see {logdir}", file=sys.stderr)
    return g


def pin(g, core):
    """Every thread of @g's QEMU onto host core @core."""
    try:
        tids = os.listdir(f"/proc/{g.proc.pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), {core})
        except OSError:
            pass        # the thread ended meanwhile


def run_pair(cfgs, accel, pair):
    """churn pair @pair: both configurations of @cfgs at once, one vCPU
    each, the first on the first host core; the cores swapped every
    PAIR_SWAP_S.  On a one-core host both share it.  Guests in @cfgs' order."""
    cores = sorted(os.sched_getaffinity(0))[:2]
    cores += cores[:2 - len(cores)]
    running, guests, stop = [], [None, None], threading.Event()

    def boot(i):
        guests[i] = run_one(cfgs[i], "churn", accel, pair, core=cores[i], running=running)

    def swap():
        turn = 0
        while not stop.wait(PAIR_SWAP_S):
            turn += 1
            for g, home in list(running):
                pin(g, cores[(cores.index(home) + turn) % 2])

    threads = [threading.Thread(target=boot, args=(i,)) for i in (0, 1)]
    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    return guests


def host_thp_splits():
    """The host's count of huge page mappings split (thp_split_pmd): a report
    of less than 2 MiB splits the host huge page backing it, and what the
    guest touches there afterwards faults in as 4 KiB pages."""
    try:
        with open("/proc/vmstat") as f:
            return next((int(l.split()[1]) for l in f if l.startswith("thp_split_pmd ")), None)
    except OSError:
        return None


STAT_KEYS = ("reports", "reported_bytes", "hypercalls", "reused_pages", "isolated",
             "zeroing_skipped_pages", "churned_pages", "pcp_drains", "pass_ns", "zone_lock_ns",
             "passes")


def counters(g, t0, t1=None):
    """{counter: moved} of STAT_KEYS from the guest's counters between host
    times t0 and t1 (the end when None); every value None without them."""
    none = dict.fromkeys(STAT_KEYS)
    st = vm.stats_on_host_clock(g)
    b = vm.sample_before(st, t0, inclusive=True) or (st[0][1] if st else None)
    e = vm.sample_before(st, t1, inclusive=True) if t1 is not None else (st[-1][1] if st else None)
    if not b or not e or "reports" not in e:
        return none
    d = vm.counter_delta(b, e)
    return {k: d.get(k) for k in STAT_KEYS}


def ratio(a, b, nd=4):
    return None if a is None or not b else round(a / b, nd)


# fphint's time counters (ns) and the per-second figures they give (ms/s:
# thousandths of a CPU at most): passes' wall time, and of it the time
# they held a zone's lock.
PASS_COST = (("pass_ns", "pass_ms_per_s"), ("zone_lock_ns", "zone_lock_ms_per_s"))


def pass_cost(counts, secs):
    """{pass_ms_per_s, zone_lock_ms_per_s} of @counts over @secs seconds."""
    return {out: None if counts.get(k) is None or not secs or secs <= 0
            else round(counts[k] / 1e6 / secs, 3) for k, out in PASS_COST}


def reused_ratio(reused_pages, reported_bytes):
    """Bytes of reported memory handed out again / bytes reported."""
    return None if reused_pages is None else ratio(reused_pages * 4096, reported_bytes)


def measure(cfg, scn, g):
    r = {"scenario": scn, "config": cfg, "t50_s": None, "t90_s": None, "t95_s": None,
         "returned_pct_at": None, "returned_pct_5s": None, "ops_per_s": None,
         "ops_ratio_vs_off": None, "reports": None, "reported_bytes": None,
         "reused_pages": None, "reused_ratio": None, "churned_pages": None,
         "churned_ratio": None, "qemu_cpu_s": None,
         "qemu_cpu_per_op_s": None, "retouch_s": None, "memfree_check": None,
         "qemu_faults_per_op": None, "host_thp_splits": None,
         "hypercalls": None, "returned_gib": None, "reports_per_gib": None,
         "blocks_per_gib": None, "pcp_drains": None, "guest_free_s": None, "t90_after_free_s": None, "refault_s": None,
         "passes": None, "pass_ms_per_s": None, "zone_lock_ms_per_s": None,
         "zeroing_skipped_pages": None}
    off = vm.clock_offset(g)
    if scn in CURVES + ("reuse",):
        got = vm.burst_curve(g, scn)
        if not got:
            return r
        pts, t0, base, size = got
        # Counters and CPU over the watch window of the RSS figures (reuse:
        # until the re-touch; fragmented ones: 10 s, or the window if shorter).
        win = SECS["burst"] if scn == "burst" else min(SECS.get(scn, 5), 10)
        end = t0 + win
        c = counters(g, t0, end if scn != "reuse" else None)
        r.update({k: c[k] for k in ("reports", "reported_bytes", "hypercalls", "reused_pages")})
        r["qemu_cpu_s"] = g.cpu_between(t0, end)
        if scn in CURVES:
            r["returned_pct_at"] = {p: (round(100 * vm.frac_at(pts, float(p)), 1)
                                        if float(p) <= win else None) for p in POINTS}
            r["returned_gib"] = round(vm.frac_at(pts, win) * size / GIB, 3)
        if scn == "burst":
            # The guest's own munmap, which the times above include: the
            # host cannot take memory back before the guest frees it.
            ev = {e["_what"]: e for _, e in g.events()}
            if "freeing" in ev and "freed" in ev:
                r["guest_free_s"] = round(float(ev["freed"]["t"]) - float(ev["freeing"]["t"]), 3)
            for k, f in (("t50_s", 0.5), ("t90_s", 0.9), ("t95_s", 0.95)):
                t = vm.time_to(pts, f)
                r[k] = None if t is None else round(t, 3)
            # The reporter's own lag: the munmap's time varies by 0.2 s
            # from boot to boot on this machine, and t90 follows it.
            if r["t90_s"] is not None and r["guest_free_s"] is not None:
                r["t90_after_free_s"] = round(r["t90_s"] - r["guest_free_s"], 3)
        if scn in ("fragmented", "frag4k"):
            r["returned_pct_5s"] = round(100 * vm.frac_at(pts, 5), 1)
            ev = {e["_what"]: e for _, e in g.events()}
            if "freeing" in ev and "freed" in ev:
                grew = (int(ev["freed"]["memfree_kib"]) - int(ev["freeing"]["memfree_kib"])) * 1024
                r["memfree_check"] = round(grew / size, 3)
            # What it cost: reports, and blocks isolated (adjacent ones merge
            # into one range: an upper bound on ranges), per GiB returned.
            if (r["returned_gib"] or 0) > 0.01 and "fphint.enabled=0" not in CONFIGS[cfg][1]:
                r["reports_per_gib"] = ratio(c["reports"], r["returned_gib"], 1)
                r["blocks_per_gib"] = ratio(c["isolated"], r["returned_gib"], 1)
                r["pcp_drains"] = c["pcp_drains"]
        if scn == "reuse":
            r["retouch_s"] = g.results().get("retouch_s")
            r["zeroing_skipped_pages"] = c["zeroing_skipped_pages"]
    elif scn == "refault":
        res = g.results()
        r["refault_s"] = res.get("touch_s_mean")
        c = counters(g, 0)
        r.update({k: c[k] for k in ("reports", "reported_bytes", "hypercalls", "reused_pages",
                                     "zeroing_skipped_pages")})
    elif scn == "churn":
        res = g.results()
        if "churn_rate" in res:
            r["ops_per_s"] = round(res["churn_rate"], 3)
        elif "churn_ops" in res:
            r["ops_per_s"] = round(res["churn_ops"] / res["seconds"], 3)
        evs = {e["_what"]: float(e["t"]) + off for _, e in g.events()}
        if "churn-start" in evs and "churn-end" in evs:
            r["qemu_cpu_s"] = g.cpu_between(evs["churn-start"], evs["churn-end"])
            # From the sample CHURN_SETTLE_S in (scenario-bench), not from the
            # start: the first operations take memory fphint reported at boot.
            samples = vm.stats_on_host_clock(g)
            st = [t for t, _ in samples
                  if evs["churn-start"] + CHURN_SETTLE_S - 0.5 <= t < evs["churn-end"]]
            # Between the sample CHURN_SETTLE_S in and the last one before
            # the churn ends: what its last unmaps free is reported after it.
            c = counters(g, st[0], st[-1]) if len(st) > 1 else counters(g, evs["churn-start"])
            r.update({k: c[k] for k in ("reports", "reported_bytes", "hypercalls", "reused_pages",
                                        "churned_pages", "passes")})
            r.update(pass_cost(c, st[-1] - st[0] if len(st) > 1 else None))
            r["reused_ratio"] = reused_ratio(r["reused_pages"], r["reported_bytes"])
            r["churned_ratio"] = reused_ratio(r["churned_pages"], r["reported_bytes"])
            # Operations over the churn at the measured rate: whole ones
            # would round by up to 1 %.
            done = (res["churn_rate"] * res["seconds"] if res.get("churn_rate")
                    else res.get("churn_ops"))
            if r["qemu_cpu_s"] is not None and done:
                r["qemu_cpu_per_op_s"] = round(r["qemu_cpu_s"] / done, 4)
            faults = g.faults_between(evs["churn-start"], evs["churn-end"])
            if faults is not None and done:
                r["qemu_faults_per_op"] = round(faults / done, 1)
            r["host_thp_splits"] = getattr(g, "host_thp_splits", None)
    elif scn == "churnab":
        r.update(ab_windows(g, off))
    return r


# Counters memhog's churnab reports per window (its ab_stats).
AB_COUNTERS = ("reports", "reported_bytes", "reused_pages", "isolated", "passes", "pass_ns",
               "zone_lock_ns")


def ab_windows(g, off):
    """churnab: per state, the windows' ops/s, the ratio to the "off" window of
    the same round (median, bootstrap interval), QEMU CPU per operation and
    the fphint counters the state made move."""
    wins = []
    for _, w in g.events("@@WINDOW"):
        try:
            wins.append({"state": w["_what"], "round": int(w["round"]), "ops": float(w["ops"]),
                         "secs": float(w["secs"]), "t0": float(w["t0"]) + off,
                         "t1": float(w["t1"]) + off,
                         **{k: int(w[k]) for k in AB_COUNTERS if k in w}})
        except (KeyError, ValueError):
            continue
    for w in wins:
        c = g.cpu_between(w["t0"], w["t1"])
        w["cpu_per_op"] = c / w["ops"] if c is not None and w["ops"] > 0 else None
    base = {w["round"]: w["ops"] / w["secs"] for w in wins if w["state"] == "off" and w["secs"] > 0}
    cbase = {w["round"]: w["cpu_per_op"] for w in wins if w["state"] == "off"}
    ab = {}
    for st in dict.fromkeys(w["state"] for w in wins):
        ws = [w for w in wins if w["state"] == st and w["secs"] > 0]
        rates = [w["ops"] / w["secs"] for w in ws]
        ratios = [w["ops"] / w["secs"] / base[w["round"]] for w in ws if base.get(w["round"])]
        cpu = [g.cpu_between(w["t0"], w["t1"]) for w in ws]
        ops = sum(w["ops"] for w in ws)
        sums = {k: sum(w.get(k, 0) for w in ws) for k in AB_COUNTERS}
        cratios = [w["cpu_per_op"] / cbase[w["round"]] for w in ws
                   if w["cpu_per_op"] is not None and cbase.get(w["round"])]
        cmed, cci = median_ci(cratios)
        med, ci = median_ci(ratios)
        ab[st] = {"cpu_per_op_ratio_vs_off": cmed, "cpu_per_op_ratio_ci95": cci,
                  "cpu_per_op_ratio_rounds": [round(x, 4) for x in cratios],
                  "windows": len(ws), "ops_per_s": round(statistics.median(rates), 3),
                  "ops_ratio_vs_off": med, "ops_ratio_ci95": ci,
                  "ops_ratio_rounds": [round(x, 4) for x in ratios],
                  "qemu_cpu_per_op_s": (round(sum(cpu) / ops, 4)
                                        if ops and None not in cpu else None),
                  **sums, "reused_ratio": reused_ratio(sums["reused_pages"],
                                                       sums["reported_bytes"])}
        ab[st].update(pass_cost(sums, sum(w["secs"] for w in ws)))
    return {"ab": ab, "ab_window_s": AB[0], "ab_settle_s": AB[1], "ab_rounds": AB[2]}


def median_ci(xs):
    """Median of @xs and its 95 % bootstrap interval [lo, hi] (BOOTSTRAP
    resamples from a fixed seed, so the same data give the same interval);
    (None, None) without data, (x, None) for a single value."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    med = round(statistics.median(xs), 4)
    if len(xs) < 2:
        return med, None
    n, seed = BOOTSTRAP
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return med, [round(meds[int(0.025 * n)], 4), round(meds[int(0.975 * n) - 1], 4)]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def combine(runs):
    """Median over repetitions, field by field; the churn runs kept."""
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) or v is None:
            out[k] = median([r[k] for r in runs])
        elif isinstance(v, dict) and k != "ab":
            out[k] = {p: median([r[k][p] for r in runs if r[k]]) for p in v}
    out["repetitions"] = len(runs)
    if runs[0]["scenario"] == "churn":
        out["ops_per_s_runs"] = [r["ops_per_s"] for r in runs]
        rep = [r["reported_bytes"] for r in runs if r["reported_bytes"] is not None]
        reu = [r["reused_pages"] for r in runs if r["reused_pages"] is not None]
        # Over all boots: reused bytes / reported bytes.
        out["reused_ratio"] = reused_ratio(sum(reu), sum(rep)) if rep and reu else None
        chu = [r["churned_pages"] for r in runs if r.get("churned_pages") is not None]
        out["churned_ratio"] = reused_ratio(sum(chu), sum(rep)) if rep and chu else None
    return out


def pair_ratios(results, raw):
    """churn: each configuration's ops/s over that of the "off" boot of the
    same pair; median and 95 % bootstrap interval."""
    offs = {r["pair"]: r["ops_per_s"] for r in raw.get(("churn", "off"), [])}
    cpu_off = {r["pair"]: r["qemu_cpu_per_op_s"] for r in raw.get(("churn", "off"), [])}
    for r in results:
        if r["scenario"] != "churn":
            continue
        if r["config"] == "off":
            r.update(ops_ratio_vs_off=1.0, ops_ratio_ci95=None, ops_ratio_pairs=None,
                     pairs=len(offs), cpu_per_op_ratio_vs_off=1.0, cpu_per_op_ratio_ci95=None,
                     cpu_per_op_ratio_pairs=None)
            continue
        ratios = [ratio(x["ops_per_s"], offs.get(x["pair"]))
                  for x in raw[("churn", r["config"])]]
        ratios = [x for x in ratios if x is not None]
        med, ci = median_ci(ratios)
        r.update(ops_ratio_vs_off=med, ops_ratio_ci95=ci, ops_ratio_pairs=ratios,
                 pairs=len(ratios))
        # QEMU CPU per operation against the pair's off: steadier than ops/s
        # when the host is busy (it counts work done, not time waited).
        cratios = [ratio(x["qemu_cpu_per_op_s"], cpu_off.get(x["pair"]))
                   for x in raw[("churn", r["config"])]]
        cratios = [x for x in cratios if x is not None]
        med, ci = median_ci(cratios)
        r.update(cpu_per_op_ratio_vs_off=med, cpu_per_op_ratio_ci95=ci,
                 cpu_per_op_ratio_pairs=cratios)


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


def ci_text(ci):
    return "–" if not ci else f"{ci[0]:.3f}–{ci[1]:.3f}"


def mib(b):
    return None if b is None else b / MIB


def table(results, accel, plan):
    by = {(r["scenario"], r["config"]): r for r in results}
    cfgs = list(dict.fromkeys(r["config"] for r in results))
    reps = "; ".join(f"{scn} " + ", ".join(f"{c} {n}" for c, n in cs.items())
                     for scn, cs in plan.items() if cs)
    paired = "; churn: pairs with off, side by side" if plan.get("churn") else ""
    lines = [f"Accelerator: **{accel.upper()}** — medians over repetitions ({reps}{paired})"
             f"{' — QUICK MODE, not a measurement' if QUICK else ''}",
             "", "| config | guest free | burst t50 | t90 | t95 | t90 − free | @0.5s | @1s | @2s "
             "| @5s | @10s | exits/GiB "
             "| frag @5s | frag4k @5s | churn vs off | reuse retouch | qemu cpu (burst) "
             "| qemu cpu s/GiB returned |",
             "|" + "---|" * 18]
    for c in cfgs:
        b = by.get(("burst", c), {})
        f = by.get(("fragmented", c), {})
        f4 = by.get(("frag4k", c), {})
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
            c, fmt(b.get("guest_free_s"), " s"), fmt(b.get("t50_s"), " s"), fmt(b.get("t90_s"), " s"), fmt(b.get("t95_s"), " s"),
            fmt(b.get("t90_after_free_s"), " s"), *[fmt(at.get(p), " %", 1) for p in POINTS], fmt(rpg, "", 1),
            fmt(f.get("returned_pct_5s"), " %", 1), fmt(f4.get("returned_pct_5s"), " %", 1),
            fmt(ch.get("ops_ratio_vs_off"), "", 3),
            fmt(ru.get("retouch_s"), " s", 2), fmt(b.get("qemu_cpu_s"), " s", 2),
            fmt(cpg, " s", 3)]) + " |")
    lines += ["", "guest free: how long the guest's munmap() of the burst's 1 GiB took; the "
              "burst times count from its start, so none can be much below it. "
              "t90 − free: t90 less the guest free of the same boot (median over boots), the "
              "reporter's own lag; the munmap's time varies from boot to boot and t90 with it. "
              "exits/GiB: notifications per GiB reported in the burst (one per virtio "
              "report, one per call for fphint-hypercall). qemu cpu: QEMU's user+system time "
              "over the burst's watch window (under TCG it includes the vCPUs themselves).",
              "Blank burst times: that fraction never left QEMU's RSS within the watch window."]

    frag = [r for r in results if r["scenario"] in ("fragmented", "frag4k")]
    if frag:
        lines += ["", "### Fragmented memory: freed memory gone from QEMU's RSS", "",
                  "| scenario | config | @0.5s | @1s | @2s | @5s | @10s | memfree_check "
                  "| reports/GiB | blocks/GiB | pcp drains |", "|" + "---|" * 11]
        for r in sorted(frag, key=lambda r: (CURVES.index(r["scenario"]), cfgs.index(r["config"]))):
            at = r.get("returned_pct_at") or {}
            lines.append("| " + " | ".join([
                r["scenario"], r["config"], *[fmt(at.get(p), " %", 1) for p in POINTS],
                fmt(r.get("memfree_check"), "", 3), fmt(r.get("reports_per_gib"), "", 1),
                fmt(r.get("blocks_per_gib"), "", 0), fmt(r.get("pcp_drains"), "", 0)]) + " |")
        lines += ["", "fragmented: 1 GiB touched, 3 of every 4 64 KiB pieces unmapped; frag4k: "
                  f"{FRAG4K_MIB} MiB touched (THP off), runs of 1-7 free 4 KiB pages with one "
                  "kept after each (MADV_DONTNEED). memfree_check: MemFree growth / bytes freed. "
                  "reports and blocks isolated per GiB returned by 10 s (fphint's counters: "
                  "none for stock page_reporting; adjacent blocks merge into one range, so "
                  "blocks bound the ranges from above). pcp drains: times fphint handed the "
                  "per-CPU page lists to the buddy in that window (stats/pcp_drains), so that "
                  "what they held after the free could be reported."]

    kz = [r for r in results if r["scenario"] in ("reuse", "refault")]
    if kz:
        ru = {r["config"]: r for r in kz if r["scenario"] == "reuse"}
        rf = {r["config"]: r for r in kz if r["scenario"] == "refault"}
        base = ru.get("off", {}).get("retouch_s")
        lines += ["", "### Touching memory reported earlier (known-zero)", "",
                  "| config | reuse retouch | vs off | zeroing skipped MiB | refault touch "
                  "(mean) | vs off | zeroing skipped MiB |", "|" + "---|" * 7]
        for c in cfgs:
            a, b = ru.get(c), rf.get(c)
            if not a and not b:
                continue
            a, b = a or {}, b or {}
            skip = lambda r: None if r.get("zeroing_skipped_pages") is None else \
                r["zeroing_skipped_pages"] * 4096
            lines.append("| " + " | ".join([
                c, fmt(a.get("retouch_s"), " s", 2), fmt(ratio(a.get("retouch_s"), base, 3), "", 3),
                fmt(mib(skip(a)), "", 0), fmt(b.get("refault_s"), " s", 2),
                fmt(ratio(b.get("refault_s"), rf.get("off", {}).get("refault_s"), 3), "", 3),
                fmt(mib(skip(b)), "", 0)]) + " |")
        lines += ["", "reuse: 1 GiB touched, freed, reported for the watch time, touched again "
                  "(retouch: the second touch).  refault: 64 MiB held, then 4 cycles of "
                  "touching 512 MiB, holding it 1 s and freeing it, a cycle every 6 s (mean "
                  "touch time).  zeroing skipped: pages the guest handed out without zeroing "
                  "because the host confirmed them zero (fphint-hypercall, and "
                  "fphint-virtio-status: the virtio queue on the patched QEMU, bit 21; -kz0 is "
                  "the hypercall with known_zero 0; fphint-default, virtio on stock QEMU, "
                  "confirms nothing)."]

    churn = [r for r in results if r["scenario"] == "churn"]
    if churn:
        lines += ["", "### Churn: paired boots", "",
                  "| config | pairs | ops/s | vs off (median of pairs) | 95 % CI | qemu cpu ms/op "
                  "| cpu/op vs off | 95 % CI | reports | reported MiB | reused MiB "
                  "| reused / reported | churned MiB | churned / reported | qemu faults/op "
                  "| host THP splits | passes | pass ms/s | zone lock ms/s |",
                  "|" + "---|" * 19]
        for r in churn:
            ru = None if r.get("reused_pages") is None else r["reused_pages"] * 4096
            lines.append("| " + " | ".join([
                r["config"], str(r.get("pairs") or "–"), fmt(r.get("ops_per_s"), "", 2),
                fmt(r.get("ops_ratio_vs_off"), "", 3), ci_text(r.get("ops_ratio_ci95")),
                fmt(None if r.get("qemu_cpu_per_op_s") is None else 1000 * r["qemu_cpu_per_op_s"],
                    "", 1),
                fmt(r.get("cpu_per_op_ratio_vs_off"), "", 3), ci_text(r.get("cpu_per_op_ratio_ci95")),
                fmt(r.get("reports"), "", 0), fmt(mib(r.get("reported_bytes")), "", 1),
                fmt(mib(ru), "", 1), fmt(r.get("reused_ratio"), "", 4),
                fmt(mib(None if r.get("churned_pages") is None else r["churned_pages"] * 4096),
                    "", 1),
                fmt(r.get("churned_ratio"), "", 4), fmt(r.get("qemu_faults_per_op"), "", 0),
                fmt(r.get("host_thp_splits"), "", 0), fmt(r.get("passes"), "", 0),
                fmt(r.get("pass_ms_per_s"), "", 2), fmt(r.get("zone_lock_ms_per_s"), "", 3)])
                + " |")
        lines += ["", f"Every vCPU mmaps, touches and unmaps 64 MiB in a loop for "
                  f"{SECS['churn']} s; ops/s counts each process's operations over the time "
                  "to its last finished one.  Pairs: off and the configuration booted at "
                  "once, one vCPU each, each on a host core of its own, the cores swapped "
                  f"every {PAIR_SWAP_S} s (off starts on the first core in even pairs, on "
                  "the second in odd ones); off-again is off paired with off, the "
                  "measurement's own spread.  The ratio is taken per pair, its "
                  f"median given with a 95 % bootstrap interval ({BOOTSTRAP[0]} resamples, "
                  f"seed {BOOTSTRAP[1]}).  cpu/op: QEMU's CPU time per operation against the "
                  "pair's off, the same way (under TCG the vCPUs' own work is in it; it does "
                  "not count time spent waiting for a busy host, ops/s does).  Counters "
                  f"(medians per boot) from {CHURN_SETTLE_S} s into the churn to 1 s before "
                  "its end (what its last unmaps free is reported after it); "
                  "reused / reported: reported memory handed out again, over all boots, "
                  "whenever it was reported (at boot too); churned: of that, what was "
                  "handed out within 2 s of its region's report (fphint's churned_pages: "
                  "memory it should have left alone; stock page_reporting has no such "
                  "counter).  qemu faults/op: QEMU's minor page faults per operation over the "
                  "churn (guest memory the host faulted in again); host THP splits: the "
                  "host's thp_split_pmd over the boot, host-wide, so both guests of the pair "
                  "(off splits none) (a report smaller than 2 MiB splits the "
                  "host huge page under it, and the guest's next use of that memory faults "
                  "in 4 KiB at a time) — medians per boot.  passes, pass ms/s, zone lock "
                  "ms/s: fphint's passes over the measured churn, their wall time per second "
                  "(stats/pass_ns, host replies and throttle waits included: at most that "
                  "many thousandths of one vCPU) and, of it, the time they held a zone's lock "
                  "(stats/zone_lock_ns), when allocations and frees may have waited on them."]

    ab = [r for r in results if r["scenario"] == "churnab" and r.get("ab")]
    for r in ab:
        lines += ["", f"### Churn, in-guest A/B ({r['config']}, one boot)", "",
                  "| state | windows | ops/s | vs off (same round) | 95 % CI | qemu cpu ms/op "
                  "| cpu/op vs off | 95 % CI | passes | blocks isolated | reports | reported MiB "
                  "| reused MiB | reused / reported | pass ms/s | zone lock ms/s |",
                  "|" + "---|" * 16]
        for st, a in r["ab"].items():
            lines.append("| " + " | ".join([
                st, str(a["windows"]), fmt(a["ops_per_s"], "", 2),
                fmt(a["ops_ratio_vs_off"], "", 3), ci_text(a["ops_ratio_ci95"]),
                fmt(None if a["qemu_cpu_per_op_s"] is None else 1000 * a["qemu_cpu_per_op_s"],
                    "", 1),
                fmt(a["cpu_per_op_ratio_vs_off"], "", 3), ci_text(a["cpu_per_op_ratio_ci95"]),
                fmt(a["passes"], "", 0), fmt(a["isolated"], "", 0), fmt(a["reports"], "", 0), fmt(mib(a["reported_bytes"]), "", 1),
                fmt(mib(a["reused_pages"] * 4096), "", 1),
                fmt(a["reused_ratio"], "", 4), fmt(a.get("pass_ms_per_s"), "", 2),
                fmt(a.get("zone_lock_ms_per_s"), "", 3)]) + " |")
        lines += ["", f"The same churn, fphint switched every {r['ab_window_s']} s "
                  f"({r['ab_rounds']} rounds, each state once a round, order rotated and "
                  f"reversed; the first {r['ab_settle_s']} s of a window not measured): off = "
                  "enabled 0 (no capture, no passes), null = transport null (capture, passes, "
                  "isolation, nothing reaches the host), on = the boot's transport.  null/off is "
                  "fphint's own CPU cost; on/null what reporting to the host adds (discards "
                  "and refaults).  null marks nothing reported, so it captures and isolates "
                  "the same memory again (its reports and bytes reach no host; compare blocks "
                  "isolated): null/off is an upper bound of the pipeline's cost at on's rate, "
                  "on/null a lower bound of the host's.  Counters moved in the measured part "
                  "of the windows, summed."]
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


def build_plan(cfgs):
    """[(scenario, config, repetition or pair)] in run order: configurations
    interleaved, their order rotated every repetition; churn as pairs with
    off (numbered over all configurations), off first in a configuration's
    even pairs and second in its odd ones."""
    plan = {}
    for scn in SCENARIOS:
        want = dict(PLAN.get(scn, {}))
        if os.environ.get("BENCH_CONFIGS"):
            # Asked for by name: runs even where the plan leaves it out.
            want = {c: want.get(c, 1 if c != "off" else 0) for c in cfgs}
        else:
            want.update({c: 1 for c in PROFILE_CONFIGS
                         if scn not in ("churn", "churnab")})
        if scn == "churn":
            want.pop("off", None)
            if os.environ.get("BENCH_PAIRS"):
                want = {c: int(os.environ["BENCH_PAIRS"]) for c in want}
        elif scn == "churnab":
            # Only fphint can be switched at runtime.
            want = {c: 1 for c, n in want.items() if n and CONFIGS[c][1] == ""}
        elif os.environ.get("BENCH_REPS"):
            want = {c: int(os.environ["BENCH_REPS"]) for c in want if want[c]}
        plan[scn] = {c: n for c, n in want.items() if n and c in cfgs}
    runs = []
    for scn, want in plan.items():
        order = list(want)
        for k in range(max(want.values(), default=0)):
            for cfg in order[k % len(order):] + order[:k % len(order)]:
                if k >= want[cfg]:
                    continue
                if scn == "churn":
                    # Numbered over all configurations: one off boot each.
                    p = sum(1 for r in runs if r[0] == scn and r[1] == "off")
                    pair = [(scn, "off", p), (scn, cfg, p)]
                    runs += pair if k % 2 == 0 else pair[::-1]
                else:
                    runs.append((scn, cfg, k))
    return plan, runs


def main():
    global CONFIGS, SCENARIOS
    os.makedirs(OUT, exist_ok=True)
    if os.environ.get("BENCH_PROFILES") == "1" or os.environ.get("BENCH_CONFIGS"):
        PROFILE_CONFIGS.update(profiles())
        CONFIGS.update(PROFILE_CONFIGS)
    if os.environ.get("BENCH_CONFIGS"):
        cfgs = os.environ["BENCH_CONFIGS"].split(",")
        for c in cfgs:
            if c not in CONFIGS:
                sys.exit(f"unknown configuration {c}: {', '.join(CONFIGS)}")
        if os.environ.get("BENCH_PROFILES") != "1":
            PROFILE_CONFIGS.clear()
    else:
        cfgs = list(CONFIGS)
    if os.environ.get("BENCH_SCENARIOS"):
        SCENARIOS = os.environ["BENCH_SCENARIOS"].split(",")
    # The patched QEMU (make qemu) runs fphint-hypercall; without it that
    # configuration is left out, said so, and the rest runs.
    if not os.access(vm.PATCHED_QEMU, os.X_OK):
        gone = [c for c in cfgs if CONFIGS[c][2] in PATCHED_PROFILES
                and (os.environ.get("BENCH_CONFIGS") or any(c in p for p in PLAN.values()))]
        if gone:
            print(f"note: {vm.PATCHED_QEMU} missing (make qemu): leaving out {', '.join(gone)}",
                  file=sys.stderr)
        cfgs = [c for c in cfgs if c not in gone]
    plan, runs = build_plan(cfgs)
    if any(CONFIGS[c][0] == "bench" for _, c, _ in runs) and not os.path.exists(BENCH_VMLINUX):
        sys.exit(f"missing {BENCH_VMLINUX}: run FPHINT_VARIANT=bench scripts/kernel-build.sh")
    accel, why = vm.pick_accel()
    print(f"accelerator: {accel.upper()} ({why}); {len(runs)} boots", flush=True)
    started = time.time()
    raw = {}
    curves = {}
    done = 0
    while done < len(runs):
        # A churn pair's two boots (adjacent in runs) run at once.
        batch = runs[done:done + (2 if runs[done][0] == "churn" else 1)]
        if len(batch) == 2:
            gs = run_pair([cfg for _, cfg, _ in batch], accel, batch[0][2])
        else:
            gs = [run_one(batch[0][1], batch[0][0], accel, batch[0][2])]
        for (scn, cfg, k), g in zip(batch, gs):
            done += 1
            r = measure(cfg, scn, g)
            if scn == "churn":
                r["pair"] = k
            raw.setdefault((scn, cfg), []).append(r)
            if scn in CURVES and (scn not in curves or cfg not in curves[scn]):
                got = vm.burst_curve(g, scn)
                if got:
                    curves.setdefault(scn, {})[cfg] = [p for p in got[0] if p[0] <= 12]
            print(f"  [{done}/{len(runs)} {time.time() - started:5.0f} s] {scn:<10} {cfg:<16} "
                  f"{'pair' if scn == 'churn' else 'rep'} {k}: " + ", ".join(
                      f"{key}={v}" for key, v in r.items()
                      if key not in ("scenario", "config", "pair") and v is not None),
                  flush=True)
    results = [combine(rs) for rs in raw.values()]
    for r in results:
        r.pop("pair", None)
    pair_ratios(results, raw)
    doc = {"machine": machine(), "accel": accel, "quick": QUICK,
           "duration_s": round(time.time() - started), "boots": len(runs),
           "plan": plan, "secs": SECS, "bootstrap": {"resamples": BOOTSTRAP[0],
                                                     "seed": BOOTSTRAP[1]},
           "results": results}
    with open(os.path.join(OUT, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = table(results, accel, plan)
    with open(os.path.join(OUT, "latest.md"), "w") as f:
        f.write(md)
    plots(curves)
    print("\n" + md)
    print(f"wrote {OUT}/latest.json, latest.md, " +
          ", ".join(f"{s}.png" for s in curves) + f" in {doc['duration_s']} s")


if __name__ == "__main__":
    main()
