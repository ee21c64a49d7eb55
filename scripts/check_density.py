"""make check suite density-smoke: bench/density.py in its quick mode.

Two guests at once, one short cycle each, off and fphint-default: the
harness works end to end (both guests of each configuration cycle, QEMU RSS
sampled and summed, artefacts written), and the control is a control:
with hinting off the QEMUs keep what their guests touched, with fphint they
give most of it back.  Figures come from `make density`, never from here.
"""
import json
import os
import subprocess
import sys

from checklib import report, vm


def suite_density(accel, logdir):
    out = os.path.join(vm.BUILD, "density-quick")
    env = dict(os.environ, DENSITY_QUICK="1", DENSITY_OUT=out)
    with open(os.path.join(logdir, "density-smoke.log"), "w") as log:
        rc = subprocess.run([sys.executable, os.path.join(vm.TOP, "bench", "density.py")],
                            env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    report(rc == 0, f"density-smoke: bench/density.py completed, every guest cycled (rc {rc})")
    try:
        doc = json.load(open(os.path.join(out, "density.json")))
    except (OSError, ValueError) as e:
        report(False, f"density-smoke: density.json readable ({e})")
        return
    by = {r["config"]: r for r in doc.get("results", [])}
    report(set(by) == {"off", "fphint-default"} and doc.get("accel") in ("tcg", "kvm"),
           f"density-smoke: results for off and fphint-default ({', '.join(by)})")
    for cfg, r in by.items():
        report(all(r.get(k) is not None for k in ("peak_sum_gib", "mean_sum_gib", "returned_pct",
                                                   "touch_s_mean", "guests_per_host")),
               f"density-smoke: {cfg}: summed RSS, touch time and guests per host measured "
               f"(peak {r.get('peak_sum_gib')} GiB, mean {r.get('mean_sum_gib')} GiB)")
    off, fp = by.get("off", {}), by.get("fphint-default", {})
    # Each guest grows by 512 MiB and shrinks back: off keeps it, fphint returns it.
    report(off.get("returned_pct") is not None and off["returned_pct"] < 20,
           f"density-smoke: off keeps its guests' peaks ({off.get('returned_pct')} % returned, < 20)")
    report(fp.get("returned_pct") is not None and fp["returned_pct"] > 50,
           f"density-smoke: fphint-default returns its guests' peaks ({fp.get('returned_pct')} % "
           "returned, > 50)")
    for f in ("density.md", "density.png"):
        p = os.path.join(out, f)
        report(os.path.exists(p) and os.path.getsize(p) > 0, f"density-smoke: {f} written")
