#!/usr/bin/env python3
"""A QMP server that answers what `fphintctl host --qmp` asks, for the local
tests (test-local.sh): fake-qmp.py SOCKET MODE [NAME], MODE one of
  stock    no report-* / fphint-policy-* properties (Debian's QEMU)
  ok       patched: counters; a policy is answered at once with errno 0
  refuse   patched: a policy is answered with errno 22 (EINVAL)
  silent   patched: a policy is never answered (guest without support)
query-name answers NAME (QEMU's -name) when given.  Serves connections
until killed; the policy text set last is written to SOCKET.text."""
import json
import os
import socket
import sys

path, mode = sys.argv[1], sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 else None
BAL = "/machine/peripheral/balloon0/virtio-backend"
COUNTERS = {"report-reports": 48, "report-ranges": 1536, "report-bytes-requested": 1 << 30,
            "report-bytes-discarded": (1 << 30) - (2 << 20),
            "report-bytes-skipped-inhibited": 0, "report-bytes-skipped-poison": 0,
            "report-bytes-skipped-unaligned": 2 << 20, "report-bytes-skipped-not-ram": 0,
            "report-bytes-failed": 0, "report-discard-ns": 123456789,
            "report-bytes-skipped-invalid": 0, "report-hypercalls": 3,
            "report-hypercalls-refused": 1}
state = {"gen": 0, "ack": 0, "errno": 0}


def answer(cmd, a):
    if cmd == "qmp_capabilities":
        return {}
    if cmd == "query-name":
        return {"name": name} if name else {}
    if cmd == "x-query-virtio":
        return [{"name": "virtio-balloon", "path": BAL}]
    if cmd == "query-balloon":
        return {"actual": 2 << 30}
    if cmd == "x-query-virtio-status":
        f = {"dev-features": ["VIRTIO_BALLOON_F_REPORTING: Page reporting VQ enabled"],
             "transports": ["VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"]}
        return {"guest-features": f, "host-features": f}
    prop = a.get("property", "")
    patched = mode != "stock"
    if cmd == "qom-get":
        if prop == "guest-stats-polling-interval":
            return 2
        if prop == "guest-stats":
            return {"last-update": 1700000000, "stats": {"stat-total-memory": 2 << 30}}
        if patched and prop in COUNTERS:
            return COUNTERS[prop]
        if patched and prop.startswith("fphint-policy-"):
            return {"fphint-policy-gen": state["gen"], "fphint-policy-ack-gen": state["ack"],
                    "fphint-policy-errno": state["errno"]}[prop]
    if cmd == "qom-set" and patched and prop == "fphint-policy-text":
        with open(path + ".text", "w") as f:
            f.write(a["value"])
        state["gen"] += 1
        if mode in ("ok", "refuse"):
            state["ack"], state["errno"] = state["gen"], 22 if mode == "refuse" else 0
        return {}
    raise KeyError(f"Property 'virtio-balloon-device.{prop}' not found" if prop
                   else f"The command {cmd} has not been found")


srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if os.path.exists(path):
    os.unlink(path)
srv.bind(path)
srv.listen(4)
while True:
    c, _ = srv.accept()
    f = c.makefile("rwb")
    f.write(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
    f.flush()
    for line in f:
        req = json.loads(line)
        try:
            r = {"return": answer(req["execute"], req.get("arguments", {}))}
        except KeyError as e:
            r = {"error": {"class": "GenericError", "desc": e.args[0]}}
        if "id" in req:
            r["id"] = req["id"]
        f.write(json.dumps(r).encode() + b"\r\n")
        f.flush()
    c.close()
