#!/usr/bin/env python3
"""The netlink YAML spec (Documentation/netlink/specs/fphint.yaml) against
the uapi header (kernel/include/uapi/linux/fphint.h), the one source of truth:
attribute and command ids, tunable ranges, string lengths, family and
multicast group names.  Each fact becomes a C _Static_assert that gcc
checks against the header itself.

Prints TAP; exit 1 if they differ.  Run alone or by check.py (static suite).
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(TOP, "Documentation/netlink/specs/fphint.yaml")
UAPI = os.path.join(TOP, "kernel/include/uapi")
HEADER = os.path.join(UAPI, "linux/fphint.h")


def netlink_spec_asserts(spec):
    """C static assertions that the YAML spec and the uapi header agree."""
    up = lambda s: s.upper().replace("-", "_")
    out = ["#include <linux/fphint.h>",
           "#define X(NAME, name, def, min, max) T_MIN_##NAME = min, T_MAX_##NAME = max,",
           "enum { FPHINT_TUNABLES(X) };", "#undef X"]
    ok = lambda expr, what: out.append(f'_Static_assert({expr}, "{what}");')
    for d in spec.get("definitions", []):
        if d["type"] == "const":
            ok(f"FPHINT_{up(d['name'])} == {d['value']}", f"const {d['name']}")
    for aset in spec["attribute-sets"]:
        prefix, val = up(aset["name-prefix"]), 0
        for a in aset["attributes"]:
            val = a.get("value", val + 1)
            name = prefix + up(a["name"])
            ok(f"{name} == {val}", f"{aset['name']}.{a['name']} id")
            chk = a.get("checks", {})
            if aset["name"] == "tunables":
                ok(f"T_MIN_{up(a['name'])} == {chk.get('min')} && T_MAX_{up(a['name'])} == {chk.get('max')}",
                   f"tunables.{a['name']} range")
            if a["type"] == "string" and "max-len" in chk:
                lim = "FPHINT_POLICY_NAME_MAX" if a["name"] == "policy" else "FPHINT_STAGE_NAME_MAX"
                ok(f"{lim} - 1 == {chk['max-len']}", f"{a['name']} max-len")
        ok(f"{prefix}MAX == {val}", f"{aset['name']}: every attribute in the spec")
    val = 0
    for op in spec["operations"]["list"]:
        val = op.get("value", val + 1)
        ok(f"FPHINT_CMD_{up(op['name'])} == {val}", f"op {op['name']}")
    ok(f"FPHINT_CMD_MAX == {val}", "every command in the spec")
    return "\n".join(out) + "\n"


def main():
    spec = yaml.safe_load(open(SPEC))
    with tempfile.NamedTemporaryFile("w", suffix=".c") as f:
        f.write(netlink_spec_asserts(spec))
        f.flush()
        res = subprocess.run(["gcc", "-fsyntax-only", "-I", UAPI, f.name],
                             capture_output=True, text=True)
    errs = re.findall(r'static assertion failed: "([^"]+)"', res.stderr)
    ids_ok = res.returncode == 0
    print(f"{'ok' if ids_ok else 'not ok'} 1 - netlink spec ids, ranges and commands match the uapi header"
          + (f" (differ: {', '.join(errs) or res.stderr.strip()[:200]})" if not ids_ok else ""))
    groups = [g["name"] for g in spec["mcast-groups"]["list"]]
    src = open(HEADER).read()
    names_ok = (spec["name"] == re.search(r'FPHINT_GENL_NAME\s+"(\w+)"', src).group(1)
                and groups == [re.search(r'FPHINT_MCGRP_EVENTS\s+"(\w+)"', src).group(1)])
    print(f"{'ok' if names_ok else 'not ok'} 2 - netlink spec family and multicast group names "
          "match the uapi header")
    print("1..2")
    return 0 if ids_ok and names_ok else 1


if __name__ == "__main__":
    sys.exit(main())
