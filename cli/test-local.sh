#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fphintctl tests that need no fphint kernel: usage errors, profile parsing,
# local validation before any netlink, policy list/show and the reply
# parsers/printers (test-parse) against golden files.  TAP output.
#   FPHINTCTL=path TEST_PARSE=path ./test-local.sh    (make -C cli test)
#   UPDATE_GOLDEN=1 ...                                 rewrite golden/
set -u
cd "$(dirname "$0")" || exit 1
F=$(realpath "${FPHINTCTL:-./fphintctl}")
T=$(realpath "${TEST_PARSE:-./test-parse}")
export FPHINT_POLICY_PATH=testdata/etc:testdata/policies
TMP=$(mktemp -d)
trap 'kill ${FAKE:-} 2>/dev/null; rm -rf "$TMP"' EXIT
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift
	for l in "$@"; do echo "#   $l"; done
}

# expect RC 'first stderr line' DESC -- CMD...
expect() {
	local rc=$1 want=$2 desc=$3 got first
	shift 4
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	first=$(head -n1 "$TMP/err")
	if [ "$got" -eq "$rc" ] && [ "$first" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc" "exit $got, want $rc" "stderr: $first" "want:   $want"
	fi
}

# golden NAME DESC -- CMD...: stdout must match golden/NAME, exit 0
golden() {
	local name=$1 desc=$2 rc
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		cp "$TMP/out" "golden/$name"
	fi
	if [ "$rc" -eq 0 ] && [ ! -s "$TMP/err" ] && diff -u "golden/$name" "$TMP/out" >"$TMP/diff"; then
		ok "$desc"
	else
		# shellcheck disable=SC2046
		not_ok "$desc" "exit $rc" "stderr: $(head -n1 "$TMP/err")" $(head -n 20 "$TMP/diff" | tr ' ' '_')
	fi
}

# profile NAME CONTENT: write $TMP/p/NAME.policy (printf format)
profile() {
	mkdir -p "$TMP/p"
	# shellcheck disable=SC2059
	printf "$2" >"$TMP/p/$1.policy"
}

NOFAM="Error: fphint netlink family not found (kernel without CONFIG_FPHINT?)"
if "$F" status >/dev/null 2>&1; then
	FAMILY=1	# running where fphint exists: kernel round trips are not ours to test
else
	FAMILY=
fi
# expect_kernel DESC -- CMD...: validated locally, so the kernel is asked
expect_kernel() {
	if [ -n "$FAMILY" ]; then
		n=$((n + 1)); echo "ok $n - $1 # SKIP fphint family present"
	else
		expect 2 "$NOFAM" "$@"
	fi
}

echo "# usage"
expect 1 "Error: no command given" "no command" -- "$F"
expect 1 "Error: unknown command 'frobnicate'" "unknown command" -- "$F" frobnicate
expect 1 "Error: unknown option '-x'" "unknown short option" -- "$F" -x status
expect 1 "Error: unknown option '--bogus'" "unknown long option" -- "$F" --bogus status
expect 0 "" "-h exits 0" -- "$F" -h
if head -n1 "$TMP/out" | grep -q '^Usage: fphintctl'; then ok "-h prints usage"; else not_ok "-h prints usage"; fi
expect 0 "" "--version exits 0" -- "$F" --version
expect 1 "Error: status takes no arguments" "status with an argument" -- "$F" status now
expect 1 "Error: --watch: '0' is not a number in 1..3600" "--watch 0" -- "$F" stats --watch 0
expect 1 "Error: --watch: '3601' is not a number in 1..3600" "--watch 3601" -- "$F" stats --watch=3601
expect 1 "Error: --watch needs a value" "--watch without value" -- "$F" stats --watch
expect 1 "Error: stats: --count needs --watch" "--count without --watch" -- "$F" stats --count 2
expect 1 "Error: stats: unknown argument 'zones'" "stats junk" -- "$F" stats zones
expect 1 "Error: --count: 'x' is not a number in 1..4294967295" "monitor --count x" -- "$F" monitor --count x
expect 1 "Error: policy list takes no arguments" "policy list junk" -- "$F" policy list x
expect 1 "Error: usage: fphintctl policy { list | show NAME|FILE }" "policy without subcommand" -- "$F" policy
expect 1 "Error: usage: fphintctl host { VMS { stats | export [--textfile FILE.prom | --listen ADDR:PORT] | set-policy NAME|FILE | set KEY=VALUE... } | --qga SOCKET { set-policy NAME | status } }, VMS: any of --qmp SOCKET, --qmp-dir DIR, --libvirt URI" \
	"host without socket" -- "$F" host stats
expect 1 "Error: host --qmp: expected stats, export, set-policy NAME|FILE or set KEY=VALUE..." \
	"host --qmp junk" -- "$F" host --qmp /x frob
expect 1 "Error: policy 'no-such' not found in testdata/etc:testdata/policies" \
	"host --qmp set-policy reads the profile here" -- "$F" host --qmp /x set-policy no-such
expect 1 "Error: host --qmp SOCKET set-policy: expected NAME or FILE [--timeout SECONDS]" \
	"host --qmp set-policy without a name" -- "$F" host --qmp /x set-policy
expect 1 "Error: min_order: 11 is out of range 0..10" \
	"host --qmp set validates like set" -- "$F" host --qmp /x set min_order=11
expect 1 "Error: frobs: unknown key" "host --qmp set unknown key" -- "$F" host --qmp /x set frobs=1
expect 1 "Error: host_policy: the guest's own switch, the host cannot set it" \
	"host --qmp set host_policy refused" -- "$F" host --qmp /x set host_policy=1
expect 1 "Error: host --qmp SOCKET set: expected KEY=VALUE... [--timeout SECONDS]" \
	"host --qmp set without pairs" -- "$F" host --qmp /x set --timeout 3
expect 1 "Error: --timeout: '0' is not a number in 1..3600" \
	"host --qmp set --timeout 0" -- "$F" host --qmp /x set min_order=9 --timeout 0
expect 2 "Error: QMP socket /nonexistent.sock: No such file or directory" \
	"host --qmp set on a missing socket" -- "$F" host --qmp /nonexistent.sock set min_order=9
expect 1 "Error: 'No_Such' is not a policy name ([a-z0-9][a-z0-9_-]{0,30}, not 'custom')" \
	"host --qga set-policy checks the name locally" -- "$F" host --qga /nonexistent set-policy No_Such
expect 2 "Error: QMP socket /nonexistent.sock: No such file or directory" \
	"host --qmp on a missing socket" -- "$F" host --qmp /nonexistent.sock stats
expect 2 "Error: guest agent socket /nonexistent.sock: No such file or directory" \
	"host --qga on a missing socket" -- "$F" host --qga /nonexistent.sock status

echo "# host --qmp against a fake QMP server (testdata/fake-qmp.py)"
# fake MODE: start the server on $TMP/MODE.sock; its pid in $FAKE
fake() {
	rm -f "$TMP/$1.sock"
	python3 testdata/fake-qmp.py "$TMP/$1.sock" "$1" &
	FAKE=$!
	for _ in $(seq 50); do [ -S "$TMP/$1.sock" ] && break; sleep 0.1; done
}
fake stock
expect 0 "Warning: host counters unavailable (stock QEMU: no report-* properties on the balloon)" \
	"host --qmp stats on stock QEMU warns, prints the rest" -- "$F" -j host --qmp "$TMP/stock.sock" stats
if grep -q '"host_counters":false' "$TMP/out" && grep -q '"report_bytes_discarded":null' "$TMP/out" &&
	grep -q '"balloon_actual_bytes":2147483648' "$TMP/out"; then
	ok "stock: host_counters false, counters null, balloon keys there"
else
	not_ok "stock: host_counters false, counters null, balloon keys there" "$(cat "$TMP/out")"
fi
expect 2 "Error: this QEMU cannot carry policy to the guest (no fphint-policy support; stock QEMU?): use --qga SOCK" \
	"host --qmp set-policy on stock QEMU points to --qga" -- "$F" host --qmp "$TMP/stock.sock" set-policy default
kill $FAKE; wait $FAKE 2>/dev/null
fake 0001
expect 0 "" "host --qmp stats on a QEMU with patch 0001 only" -- "$F" -j host --qmp "$TMP/0001.sock" stats
if grep -q '"host_counters":true' "$TMP/out" && grep -q '"report_bytes_discarded":1071644672' "$TMP/out" &&
	grep -q '"report_hypercalls":null' "$TMP/out" && grep -q '"report_bytes_skipped_invalid":null' "$TMP/out"; then
	ok "0001 only: the hypercall counters null, the others there"
else
	not_ok "0001 only: the hypercall counters null, the others there" "$(cat "$TMP/out")"
fi
"$F" host --qmp "$TMP/0001.sock" export > "$TMP/out" 2>&1
if grep -q '^fphint_host_report_discarded_bytes_total{vm=' "$TMP/out" &&
	! grep -q '^fphint_host_report_hypercalls_total{' "$TMP/out" && ! grep -q 'reason="invalid"' "$TMP/out"; then
	ok "0001 only: export has no sample for the counters QEMU lacks"
else
	not_ok "0001 only: export has no sample for the counters QEMU lacks" "$(head -n 5 "$TMP/out")"
fi
kill $FAKE; wait $FAKE 2>/dev/null
fake ok
expect 0 "" "host --qmp stats with counters" -- "$F" -j host --qmp "$TMP/ok.sock" stats
if grep -q '"host_counters":true' "$TMP/out" && grep -q '"report_bytes_discarded":1071644672' "$TMP/out" &&
	grep -q '"report_bytes_skipped_unaligned":2097152' "$TMP/out" && grep -q '"report_discard_ns":123456789' "$TMP/out"; then
	ok "host counters printed under their snake_case keys"
else
	not_ok "host counters printed under their snake_case keys" "$(cat "$TMP/out")"
fi
if grep -q '"report_hypercalls":3' "$TMP/out" && grep -q '"report_hypercalls_refused":1' "$TMP/out"; then
	ok "report hypercall counters printed (qemu/patches 0003)"
else
	not_ok "report hypercall counters printed (qemu/patches 0003)" "$(cat "$TMP/out")"
fi
profile hostp 'min_order = 3\nthrottle = none\n'
expect 0 "" "host --qmp set-policy applied" -- "$F" -j host --qmp "$TMP/ok.sock" set-policy "$TMP/p/hostp.policy"
if [ "$(cat "$TMP/out")" = '{"generation":1,"errno":0}' ] &&
	[ "$(cat "$TMP/ok.sock.text")" = "$(printf 'policy=hostp\nthrottle=none\nmin_order=3\n')" ]; then
	ok "set-policy: the profile as policy=NAME + key=value text, generation printed"
else
	not_ok "set-policy: the profile as policy=NAME + key=value text, generation printed" \
		"$(cat "$TMP/out")" "$(tr '\n' '|' < "$TMP/ok.sock.text")"
fi
expect 0 "" "host --qmp set applied" -- "$F" host --qmp "$TMP/ok.sock" set min_order=9 throttle=ratelimit
if [ "$(cat "$TMP/ok.sock.text")" = "$(printf 'throttle=ratelimit\nmin_order=9\n')" ] &&
	grep -q '^generation *2$' "$TMP/out"; then
	ok "set: only the given keys, no policy= line"
else
	not_ok "set: only the given keys, no policy= line" "$(cat "$TMP/out")" "$(tr '\n' '|' < "$TMP/ok.sock.text")"
fi
kill $FAKE; wait $FAKE 2>/dev/null
fake refuse
expect 1 "Error: guest refused the policy: Invalid argument (errno 22)" \
	"host --qmp set refused by the guest: exit 1 with its errno" -- "$F" host --qmp "$TMP/refuse.sock" set min_order=9
kill $FAKE; wait $FAKE 2>/dev/null
fake silent
expect 2 "Error: guest did not answer within 1 s (guest without fphint host policy support, or host_policy disabled?)" \
	"host --qmp set without an answer: exit 2 after --timeout" -- "$F" host --qmp "$TMP/silent.sock" set min_order=9 --timeout 1
kill $FAKE; wait $FAKE 2>/dev/null

echo "# several VMs: --qmp-dir, repeated --qmp, one that does not answer"
D=$TMP/vms
mkdir -p "$D" "$TMP/tf"
# fake_vm SOCKET MODE [NAME]: one more fake QEMU, killed at exit
fake_vm() {
	python3 testdata/fake-qmp.py "$@" &
	FAKES="${FAKES:-} $!"
	for _ in $(seq 50); do [ -S "$1" ] && break; sleep 0.1; done
}
trap 'kill ${FAKE:-} ${FAKES:-} ${SRV:-} 2>/dev/null; rm -rf "$TMP"' EXIT
fake_vm "$D/a.sock" ok web-1
fake_vm "$D/b.sock" stock
# bound, never listening: connect() is refused, as for a QEMU that died
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/c-dead.sock"
echo "not a socket" >"$D/notes.txt"
# json_ok DESC PYTHON-EXPR: the expression holds for v = the JSON in $TMP/out
json_ok() {
	if python3 -c "import json, sys; v = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" \
		"$TMP/out" 2>"$TMP/pyerr"; then
		ok "$1"
	else
		not_ok "$1" "$(head -c 600 "$TMP/out")" "$(tail -n1 "$TMP/pyerr")"
	fi
}
expect 2 "Warning: b.sock: host counters unavailable (stock QEMU: no report-* properties on the balloon)" \
	"--qmp-dir: every socket, a warning names its VM, exit 2 when one did not answer" -- \
	"$F" -j host --qmp-dir "$D" stats
json_ok "--qmp-dir: one entry per socket in name order, named by query-name or the socket file" \
	'[x["vm"] for x in v] == ["web-1", "b.sock", "c-dead.sock"]'
json_ok "--qmp-dir: the VMs that answered are read in full" \
	'v[0]["report_bytes_discarded"] == 1071644672 and v[0]["host_counters"] is True and
	 v[1]["host_counters"] is False and v[1]["balloon_actual_bytes"] == 2 << 30 and
	 v[1]["guest_total_memory_bytes"] == 2 << 30 and v[0]["qemu_pid"] > 0'
json_ok "--qmp-dir: the dead socket is an entry with its error, nothing else" \
	"v[2] == {'vm': 'c-dead.sock', 'error': 'QMP socket $D/c-dead.sock: Connection refused'}"
if [ "$(tail -n1 "$TMP/err")" = "Error: 1 of 3 VMs did not answer" ]; then
	ok "--qmp-dir: stderr ends with how many did not answer"
else
	not_ok "--qmp-dir: stderr ends with how many did not answer" "$(tail -n1 "$TMP/err")"
fi
expect 0 "Warning: b.sock: host counters unavailable (stock QEMU: no report-* properties on the balloon)" \
	"repeated --qmp: all answered, exit 0" -- "$F" host --qmp "$D/b.sock" --qmp "$D/a.sock" stats
if [ "$(grep '^vm ' "$TMP/out" | awk '{print $2}' | tr '\n' ' ')" = "b.sock web-1 " ] &&
	[ "$(grep -c '^$' "$TMP/out")" = 1 ]; then
	ok "repeated --qmp: text blocks in the order given, one blank line between"
else
	not_ok "repeated --qmp: text blocks in the order given, one blank line between" "$(grep '^vm ' "$TMP/out")"
fi
expect 2 "Error: --qmp-dir $TMP/none: No such file or directory" "--qmp-dir that does not exist" -- \
	"$F" host --qmp-dir "$TMP/none" stats
expect 1 "Error: --qmp needs a value" "--qmp without a value" -- "$F" host --qmp
expect 1 "Error: --libvirt: this fphintctl was built without libvirt (the static guest build; the host build is cli/host/fphintctl)" \
	"--libvirt in the static build" -- "$F" host --libvirt qemu:///system stats
expect 2 "Error: the policy did not reach every VM" "set on two VMs, one dead: exit 2" -- \
	"$F" -j host --qmp "$D/a.sock" --qmp "$D/c-dead.sock" set min_order=7
json_ok "set on two VMs: the generation of one, the error of the other" \
	"v[0]['vm'] == 'web-1' and v[0]['errno'] == 0 and v[0]['generation'] >= 1 and
	 v[1] == {'vm': 'c-dead.sock', 'error': 'QMP socket $D/c-dead.sock: Connection refused'}"

echo "# host ... export: Prometheus text format"
# the fakes' RSS is python's: everything else is fixed
expect 2 "Error: 1 VMs did not answer (fphint_vm_up 0)" "export: exit 2 when one VM did not answer" -- \
	"$F" host --qmp-dir "$D" export
grep -v '^fphint_qemu_resident_memory_bytes{' "$TMP/out" >"$TMP/export.prom"
[ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMP/export.prom" golden/export-fake.prom
if diff -u golden/export-fake.prom "$TMP/export.prom" >"$TMP/diff"; then
	ok "export of the three sockets matches golden/export-fake.prom"
else
	# shellcheck disable=SC2046
	not_ok "export of the three sockets matches golden/export-fake.prom" $(head -n 20 "$TMP/diff" | tr ' ' '_')
fi
if grep -q '^fphint_qemu_resident_memory_bytes{vm="web-1"} [1-9][0-9]*$' "$TMP/out"; then
	ok "export: QEMU RSS of a socket's VM from its peer's /proc"
else
	not_ok "export: QEMU RSS of a socket's VM from its peer's /proc" "$(grep resident "$TMP/out")"
fi
if command -v promtool >/dev/null; then
	if promtool check metrics <"$TMP/out" >"$TMP/lint" 2>&1; then
		ok "promtool check metrics: export is clean"
	else
		not_ok "promtool check metrics: export is clean" "$(head -n 5 "$TMP/lint")"
	fi
fi
golden parse-export.prom "export of every figure, escaped names, a VM down (test-parse)" -- "$T" export
expect 0 "" "export --textfile" -- "$F" host --qmp "$D/a.sock" export --textfile "$TMP/tf/fphint.prom"
if [ ! -s "$TMP/out" ] && [ "$(ls -A "$TMP/tf")" = fphint.prom ] &&
	[ "$(stat -c %a "$TMP/tf/fphint.prom")" = 644 ] &&
	grep -q '^fphint_host_report_discarded_bytes_total{vm="web-1"} 1071644672$' "$TMP/tf/fphint.prom"; then
	ok "--textfile: the file alone in its directory (no temp file left), 0644, nothing on stdout"
else
	not_ok "--textfile: the file alone in its directory (no temp file left), 0644, nothing on stdout" "$(ls -lA "$TMP/tf")"
fi
cp "$TMP/tf/fphint.prom" "$TMP/before.prom"
for bad in "--textfile $TMP/tf/fphint.txt|1|Error: --textfile $TMP/tf/fphint.txt: node_exporter's textfile collector reads only FILE.prom" \
	"--textfile $TMP/none/fphint.prom|2|Error: --textfile $TMP/none/fphint.prom: No such file or directory" \
	"--textfile|1|Error: --textfile needs a value" \
	"--listen 127.0.0.1:0|1|Error: --listen: '127.0.0.1:0' is not ADDR:PORT with a port in 1..65535" \
	"--listen 127.0.0.1:65536|1|Error: --listen: '127.0.0.1:65536' is not ADDR:PORT with a port in 1..65535" \
	"--listen 9100|1|Error: --listen: '9100' is not ADDR:PORT with a port in 1..65535" \
	"--listen localhost:9100|1|Error: --listen: 'localhost' is not a numeric IPv4 or IPv6 address (Name or service not known)" \
	"--textfile $TMP/tf/fphint.prom --listen 127.0.0.1:9100|1|Error: export: --textfile or --listen, not both" \
	"--frob|1|Error: export: unknown argument '--frob'"; do
	IFS='|' read -r args rc msg <<<"$bad"
	# shellcheck disable=SC2086
	expect "$rc" "$msg" "export $args refused" -- "$F" host --qmp "$D/a.sock" export $args
	if [ -s "$TMP/out" ] || ! cmp -s "$TMP/before.prom" "$TMP/tf/fphint.prom" || [ "$(ls -A "$TMP/tf")" != fphint.prom ]; then
		not_ok "export $args wrote nothing" "$(head -c 200 "$TMP/out")" "$(ls -A "$TMP/tf")"
	fi
done
expect 1 "Error: export writes the Prometheus text format: -j does not apply" "export -j refused" -- \
	"$F" -j host --qmp "$D/a.sock" export
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$F" host --qmp-dir "$D" export --listen "127.0.0.1:$PORT" 2>"$TMP/srv.err" &
SRV=$!
# http PATH: status and body of GET http://127.0.0.1:$PORT/PATH in $TMP/out
http() {
	python3 - "$PORT" "$1" >"$TMP/out" <<'PY'
import sys, time, urllib.error, urllib.request
for _ in range(100):
    try:
        r = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=30)
        print(r.status, r.headers["Content-Type"]); print(r.read().decode(), end="")
        break
    except urllib.error.HTTPError as e:
        print(e.code); break
    except OSError:
        time.sleep(0.1)
PY
}
http /metrics
if [ "$(head -n1 "$TMP/out")" = "200 text/plain; version=0.0.4; charset=utf-8" ] &&
	grep -q '^fphint_vm_up{vm="web-1"} 1$' "$TMP/out" && grep -q '^fphint_vm_up{vm="c-dead.sock"} 0$' "$TMP/out"; then
	ok "--listen: GET /metrics serves the export (version 0.0.4)"
else
	not_ok "--listen: GET /metrics serves the export (version 0.0.4)" "$(head -n 3 "$TMP/out")"
fi
fake_vm "$D/d.sock" ok later
http /metrics
if grep -q '^fphint_vm_up{vm="later"} 1$' "$TMP/out"; then
	ok "--listen: the sockets are listed again at each scrape"
else
	not_ok "--listen: the sockets are listed again at each scrape" "$(grep fphint_vm_up "$TMP/out")"
fi
http /
if [ "$(cat "$TMP/out")" = 404 ]; then ok "--listen: 404 off /metrics"; else not_ok "--listen: 404 off /metrics" "$(cat "$TMP/out")"; fi
expect 2 "Error: --listen 127.0.0.1:$PORT: Address already in use" "--listen on a port in use" -- \
	"$F" host --qmp "$D/a.sock" export --listen "127.0.0.1:$PORT"
kill "$SRV"; wait "$SRV" 2>/dev/null
SRV=
if [ ! -s "$TMP/srv.err" ]; then ok "--listen: nothing on stderr while serving"; else not_ok "--listen: nothing on stderr while serving" "$(head -n2 "$TMP/srv.err")"; fi
if [ -n "${FPHINTCTL_HOST:-}" ]; then
	H=$(realpath "$FPHINTCTL_HOST")
	expect 0 "" "host build: the same export" -- "$H" host --qmp "$D/a.sock" export
	expect 2 "Error: libvirt qemu+unix:///system?socket=$TMP/none: Failed to connect socket to '$TMP/none': No such file or directory" \
		"host build: --libvirt with a connection that does not open" -- \
		"$H" host --libvirt "qemu+unix:///system?socket=$TMP/none" stats
fi

echo "# set: validated before any netlink"
expect 1 "Error: set: expected KEY=VALUE..." "set without pairs" -- "$F" set
expect 1 "Error: min_order: expected KEY=VALUE" "set without '='" -- "$F" set min_order
expect 1 "Error: frobs: unknown key" "set unknown key" -- "$F" set frobs=1
expect 1 "Error: policy: unknown key" "policy is not a set key" -- "$F" set policy=x
expect 1 "Error: min_order: 11 is out of range 0..10" "set above max" -- "$F" set min_order=11
expect 1 "Error: capture_batch: 15 is out of range 16..8192" "set below min" -- "$F" set capture_batch=15
expect 1 "Error: report_batch: '0x10' is not a decimal number" "set hex" -- "$F" set report_batch=0x10
expect 1 "Error: report_batch: '-1' is not a decimal number" "set negative" -- "$F" set report_batch=-1
expect 1 "Error: report_batch: '99999999999' is not a decimal number" "set u32 overflow" -- \
	"$F" set report_batch=99999999999
expect 1 "Error: min_order: empty value" "set empty value" -- "$F" set min_order=
expect 1 "Error: min_order: duplicate key" "set duplicate key" -- "$F" set min_order=2 min_order=3
expect 1 "Error: enabled: '2' is not 0 or 1" "set enabled=2" -- "$F" set enabled=2
expect 1 "Error: capture: 'Per_CPU' is not a stage name ([a-z0-9][a-z0-9_-]*, at most 15 characters)" \
	"set stage syntax" -- "$F" set capture=Per_CPU
expect 1 "Error: throttle: 'abcdefghijklmnop' is not a stage name ([a-z0-9][a-z0-9_-]*, at most 15 characters)" \
	"set stage name too long" -- "$F" set throttle=abcdefghijklmnop
expect 1 "Error: transport: duplicate key" "bad pair after good ones" -- \
	"$F" set enabled=1 transport=null min_order=3 transport=virtio
expect_kernel "valid set reaches netlink" -- "$F" set enabled=1 capture=buddy-scan min_order=10 ratelimit_mib_s=1048576
expect_kernel "status reaches netlink" -- "$F" status
expect_kernel "stats reaches netlink" -- "$F" -j stats
expect_kernel "monitor reaches netlink" -- "$F" monitor --count 1

echo "# profiles"
P=$TMP/p
profile unknown '# test\n\nfrobs = 1\n'
expect 1 "Error: $P/unknown.policy:3: frobs: unknown key" "profile: unknown key" -- "$F" set-policy "$P/unknown.policy"
profile dup 'min_order = 1\nreport_batch = 2\nmin_order=2\n'
expect 1 "Error: $P/dup.policy:3: min_order: duplicate key (first on line 1)" "profile: duplicate key" -- \
	"$F" set-policy "$P/dup.policy"
profile noeq 'capture = percpu\nmin_order 3\n'
expect 1 "Error: $P/noeq.policy:2: min_order: missing '='" "profile: missing '='" -- "$F" set-policy "$P/noeq.policy"
profile nokey '= 3\n'
expect 1 "Error: $P/nokey.policy:1: missing key before '='" "profile: missing key" -- "$F" set-policy "$P/nokey.policy"
profile empty 'capture =   \n'
expect 1 "Error: $P/empty.policy:1: capture: empty value" "profile: empty value" -- "$F" set-policy "$P/empty.policy"
profile nan 'report_batch = 12k\n'
expect 1 "Error: $P/nan.policy:1: report_batch: '12k' is not a decimal number" "profile: non-numeric" -- \
	"$F" set-policy "$P/nan.policy"
profile range '# x\nlow_mem_pct = 91\n'
expect 1 "Error: $P/range.policy:2: low_mem_pct: 91 is out of range 0..90" "profile: out of range" -- \
	"$F" set-policy "$P/range.policy"
profile inline 'min_order = 3 # big blocks\n'
expect 1 "Error: $P/inline.policy:1: min_order: '3 # big blocks' is not a decimal number" \
	"profile: '#' only starts comment lines" -- "$F" set-policy "$P/inline.policy"
profile enabled 'enabled = yes\n'
expect 1 "Error: $P/enabled.policy:1: enabled: 'yes' is not 0 or 1" "profile: enabled not 0/1" -- \
	"$F" set-policy "$P/enabled.policy"
profile hostpol 'host_policy = 0\n'
expect 1 "Error: $P/hostpol.policy:1: host_policy: host_policy is the guest's own switch, not part of a policy" \
	"profile: host_policy refused" -- "$F" set-policy "$P/hostpol.policy"
profile stage 'selection = zone sort\n'
expect 1 "Error: $P/stage.policy:1: selection: 'zone sort' is not a stage name ([a-z0-9][a-z0-9_-]*, at most 15 characters)" \
	"profile: stage name syntax" -- "$F" set-policy "$P/stage.policy"
profile long "# $(printf 'x%.0s' $(seq 255))\n"
expect 1 "Error: $P/long.policy:1: line longer than 256 characters" "profile: 257-character line" -- \
	"$F" set-policy "$P/long.policy"
profile nul 'min_order = 1\n# a\0b\n'
expect 1 "Error: $P/nul.policy:2: NUL byte" "profile: NUL byte" -- "$F" set-policy "$P/nul.policy"
profile latin1 '# caf\xe9\nmin_order = 1\n'
expect 1 "Error: $P/latin1.policy:1: not valid UTF-8" "profile: invalid UTF-8" -- "$F" set-policy "$P/latin1.policy"
head -c 65537 /dev/zero | tr '\0' '#' >"$P/big.policy"
expect 1 "Error: $P/big.policy: file larger than 65536 bytes" "profile: larger than 64 KiB" -- \
	"$F" set-policy "$P/big.policy"
profile Upper 'min_order = 1\n'
expect 1 "Error: $P/Upper.policy: a profile file is named NAME.policy, NAME [a-z0-9][a-z0-9_-]{0,30}" \
	"profile: file name is not a policy name" -- "$F" set-policy "$P/Upper.policy"
profile custom 'min_order = 1\n'
expect 1 "Error: $P/custom.policy: 'custom' is reserved: the kernel reports it after any change" \
	"profile: 'custom' is reserved" -- "$F" set-policy "$P/custom.policy"
expect 1 "Error: $P/missing.policy: No such file or directory" "profile: missing file" -- \
	"$F" set-policy "$P/missing.policy"
expect 1 "Error: policy 'nope' not found in testdata/etc:testdata/policies" "profile: unknown name" -- \
	"$F" set-policy nope
expect 1 "Error: 'Low-Latency' is not a policy name ([a-z0-9][a-z0-9_-]{0,30}, not 'custom')" \
	"profile: bad name syntax" -- "$F" set-policy Low-Latency
FPHINT_POLICY_PATH=$P expect 1 "Error: $P/range.policy:2: low_mem_pct: 91 is out of range 0..90" \
	"profile by name through FPHINT_POLICY_PATH" -- "$F" set-policy range
FPHINT_POLICY_PATH=$P expect 1 "Error: $P/range.policy:2: low_mem_pct: 91 is out of range 0..90" \
	"policy show reports the same errors" -- "$F" policy show range
profile edge "\xef\xbb\xbf# caf\xc3\xa9 ok\r\n# $(printf '\xc3\xa9%.0s' $(seq 254))\r\n\n\tmin_order\t=9\r\n"
expect_kernel "profile: UTF-8, CRLF, tabs, 256-character line are fine" -- "$F" set-policy "$P/edge.policy"
expect_kernel "valid profile by name reaches netlink" -- "$F" set-policy low-latency

echo "# policy list / show"
golden policy-list.txt "policy list" -- "$F" policy list
golden policy-list.json "policy list -j" -- "$F" -j policy list
golden policy-list-pretty.json "policy list -j -p" -- "$F" -j -p policy list
golden policy-show-low-latency.txt "policy show NAME" -- "$F" policy show low-latency
golden policy-show-low-latency.json "policy show NAME -j" -- "$F" --json policy show low-latency
golden policy-show-throughput.json "first directory wins" -- "$F" -jp policy show throughput
golden policy-show-default.txt "policy show: no settings" -- "$F" policy show default
golden policy-show-file.txt "policy show FILE" -- "$F" policy show testdata/policies/throughput.policy
FPHINT_POLICY_PATH=testdata/invalid:testdata/policies golden policy-list-invalid.txt \
	"policy list flags invalid profiles" -- "$F" policy list
golden keys.txt "__keys lists every set key" -- "$F" __keys
golden stages-capture.txt "__stages capture" -- "$F" __stages capture
golden policies.txt "__policies" -- "$F" __policies

echo "# kernel replies, events and extack through test-parse"
for t in status stats watch events; do
	golden "parse-$t.txt" "$t: text" -- "$T" "$t"
	golden "parse-$t.json" "$t: JSON" -- "$T" -j "$t"
done
golden parse-status-pretty.json "status: pretty JSON" -- "$T" -j -p status
golden parse-extack.txt "extack names the attribute sent" -- "$T" extack

echo "# the man page lists what the header defines, and the metrics export.c writes"
missing=
while read -r kind name min max def; do
	case $kind in
	tunable) grep -qF ".BR $name \" ($min..$max, default $def)\"" fphintctl.8 || missing+=" $name" ;;
	stat) grep -qE "^\.BR $name( ,)?$" fphintctl.8 || missing+=" $name" ;;
	# export.c's families: in the man page and the host guide
	metric) grep -qF "$name" fphintctl.8 || missing+=" $name"
		grep -qF "$name" ../Documentation/mm/fphint-host.rst || missing+=" $name(rst)" ;;
	esac
done < <("$T" keys)
if [ -z "$missing" ]; then ok "fphintctl.8 is up to date"; else not_ok "fphintctl.8 is up to date" "missing or stale:$missing"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
