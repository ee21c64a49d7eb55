# Shell helpers for guest scenarios (busybox sh).
FP=/sys/kernel/mm/fphint
now() { cut -d' ' -f1 /proc/uptime; }
event() { echo "@@EVENT $* t=$(now)"; }
# One line with every counter, for the host's timeline.
stats_line() {
	line="@@STATS t=$(now)"
	for f in $FP/stats/*; do line="$line $(basename $f)=$(cat $f)"; done
	echo "$line"
}
# stats every $2 seconds for $1 seconds
watch_stats() {
	end=$(( $(cut -d. -f1 /proc/uptime) + $1 ))
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do stats_line; sleep "${2:-0.5}"; done
	stats_line
}
tap_begin() { echo "@@TAP-BEGIN $1 $2"; }
tap_end() { echo "@@TAP-END $1"; }
# out NAME CMD...: run CMD; its stdout, stderr (prefixed) and exit code
# between @@OUT markers for the host (golden files, demo).
out() {
	name=$1; shift
	echo "@@OUT-BEGIN $name"
	"$@" > /tmp/out.stdout 2> /tmp/out.stderr
	rc=$?
	cat /tmp/out.stdout
	sed 's/^/stderr: /' /tmp/out.stderr
	echo "@@OUT-END $name rc=$rc"
}
