#!/usr/bin/env python3
"""make check: boot the guest for each suite, collect TAP, assert on host RSS.

Suites:
  selftest  KUnit (run at boot, KTAP from debugfs) + the sysfs kselftest
  e2e       1 GiB freed in a 2 GiB guest: control (fphint disabled) must
            not return memory, the default policy must return >= 90 % in 10 s
  upstream  fphint.enabled=0: stock page_reporting still returns memory

Prints TAP and ends with "N passed, N failed"; exit 1 on any failure.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
import fphint_vm as vm  # noqa: E402

GIB = 1 << 30
results = []   # (ok, name, skipped)


def report(ok, name, skip=None):
    results.append((ok, name, skip))
    line = f"{'ok' if ok else 'not ok'} {len(results)} - {name}"
    if skip:
        line += f" # SKIP {skip}"
    print(line, flush=True)


def parse_tap(g):
    """Test cases from @@TAP-BEGIN NAME MODE ... @@TAP-END NAME blocks.

    MODE kunit counts the indented KTAP case lines; tap the top-level ones."""
    block, mode, seen = None, None, set()
    for _, text in g.lines:
        if text.startswith("@@TAP-BEGIN "):
            _, block, mode = text.split()[:3]
            seen.add(block)
            continue
        if text.startswith("@@TAP-END"):
            block = None
            continue
        if block is None:
            continue
        m = re.match(r"^(\s*)(not ok|ok) \d+ -? ?(.*?)(\s+#\s*(SKIP|skip)\s*(.*))?$", text)
        if not m:
            continue
        indented = bool(m.group(1))
        if (mode == "kunit") != indented:
            continue
        skip = m.group(6) if m.group(5) else None
        report(m.group(2) == "ok", f"{block}: {m.group(3).strip()}",
               (skip or "skipped") if m.group(5) else None)
    return seen


def check_console(g, suite):
    problems = g.console_problems()
    report(not problems, f"{suite}: no kernel warning, BUG or call trace on the console")
    for p in problems[:10]:
        print(f"#   {p}")


def suite_selftest(accel, logdir):
    with open(os.path.join(logdir, "selftest.log"), "w") as log:
        g = vm.boot("selftest", accel, 900, log=log)
    report(g.seen("@@DONE"), "selftest: guest booted and ran to the end")
    seen = parse_tap(g)
    for want in ("kunit:fphint-selection", "kunit:fphint-throttle", "sysfs"):
        report(want in seen, f"selftest: {want} results present")
    check_console(g, "selftest")


def burst_checks(g, phase, min_frac, within, label):
    got = vm.burst_curve(g, phase)
    if not got:
        report(False, f"{label}: burst events found on the console")
        return None
    pts, freed_at, base, size = got
    frac = vm.frac_at(pts, within)
    report(frac >= min_frac if min_frac > 0 else True,
           f"{label}: {frac:.1%} of 1 GiB left QEMU RSS within {within} s (need >= {min_frac:.0%})")
    return pts


def suite_e2e(accel, logdir):
    with open(os.path.join(logdir, "e2e.log"), "w") as log:
        g = vm.boot("e2e", accel, 300, log=log)
    g.save_rss(os.path.join(logdir, "e2e-rss.csv"))
    report(g.seen("@@DONE rc=0"), "e2e: guest scenario ran to the end")
    ctl = vm.burst_curve(g, "control")
    if ctl:
        frac = vm.frac_at(ctl[0], 10)
        report(frac < 0.10,
               f"e2e: control (fphint disabled): {frac:.1%} left RSS in 10 s (need < 10%)")
    else:
        report(False, "e2e: control burst events found")
    pts = burst_checks(g, "fphint", 0.90, 10, "e2e: fphint default policy")
    # Counters really moved, and agree with what the host saw.
    st = g.stats()
    if len(st) >= 2:
        first, last = st[0][1], st[-1][1]
        rep = last["reported_bytes"] - first["reported_bytes"]
        report(rep >= 0.9 * GIB, f"e2e: reported_bytes grew by {rep / GIB:.2f} GiB (need >= 0.9)")
        report(last["isolated_now_pages"] == 0, "e2e: no page left isolated at the end")
    else:
        report(False, "e2e: stats lines found")
    check_console(g, "e2e")
    return g, pts


def suite_upstream(accel, logdir):
    with open(os.path.join(logdir, "upstream.log"), "w") as log:
        g = vm.boot("upstream", accel, 300, append="fphint.enabled=0", log=log)
    g.save_rss(os.path.join(logdir, "upstream-rss.csv"))
    report(g.seen("@@DONE rc=0"), "upstream: guest scenario ran to the end")
    # Stock reporting needs ~7-10 s; a generous bound shows the path works.
    pts = burst_checks(g, "upstream", 0.50, 14, "upstream: stock page_reporting with fphint.enabled=0")
    check_console(g, "upstream")
    return g, pts


def suite_bench_quick():
    """The bench harness end to end in its quick mode: artefacts, schema,
    and numbers present.  Speed is never asserted here."""
    import json
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
            "reported_bytes", "qemu_cpu_s"}
    rs = doc["results"]
    report(rs and all(keys <= set(r) for r in rs), "bench-quick: every result has the schema's fields")
    by = {(r["scenario"], r["config"]): r for r in rs}
    need = [("burst", "fphint-default", "t90_s"), ("burst", "off", "returned_pct_at"),
            ("fragmented", "fphint-default", "returned_pct_5s"),
            ("churn", "off", "ops_per_s"), ("churn", "fphint-default", "ops_ratio_vs_off"),
            ("reuse", "fphint-default", "retouch_s")]
    for scn, cfg, k in need:
        report(by.get((scn, cfg), {}).get(k) is not None, f"bench-quick: {scn}/{cfg} measured {k}")
    # The control really is a control: no hinting returns nothing.
    off_at = (by.get(("burst", "off"), {}).get("returned_pct_at") or {}).get("2")
    report(off_at is not None and off_at < 10, f"bench-quick: 'off' returned {off_at} % of a burst (< 10)")
    for f in ("latest.md", "burst.png", "fragmented.png"):
        report(os.path.getsize(os.path.join(out, f)) > 0 if os.path.exists(os.path.join(out, f)) else False,
               f"bench-quick: {f} written")


def suite_static():
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


def main():
    logdir = os.path.join(vm.BUILD, "logs")
    os.makedirs(logdir, exist_ok=True)
    accel, why = vm.pick_accel()
    print(f"# accelerator: {accel.upper()} ({why})", flush=True)
    only = sys.argv[1:] or ["static", "selftest", "e2e", "upstream", "bench-quick"]
    if "static" in only:
        suite_static()
    curves = {}
    if "selftest" in only:
        suite_selftest(accel, logdir)
    if "e2e" in only:
        _, curves["fphint"] = suite_e2e(accel, logdir)
    if "upstream" in only:
        _, curves["upstream"] = suite_upstream(accel, logdir)
    if "bench-quick" in only:
        suite_bench_quick()
    for name, pts in curves.items():
        if pts:
            t90 = vm.time_to(pts, 0.90)
            t95 = vm.time_to(pts, 0.95)
            print(f"# {name}: t90 {t90 if t90 is None else round(t90, 2)} s, "
                  f"t95 {t95 if t95 is None else round(t95, 2)} s, "
                  f"{vm.frac_at(pts, 1.0):.1%} at 1 s ({accel.upper()})")
    passed = sum(1 for ok, _, s in results if ok and not s)
    failed = sum(1 for ok, _, _ in results if not ok)
    skipped = sum(1 for ok, _, s in results if ok and s)
    print(f"# logs: {logdir}")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
