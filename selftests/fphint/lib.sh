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
# Until reported_bytes has not moved for 3 s (at most 60 s): reporting is
# done, what the host counts now stays as it is.
wait_quiet() {
	last=-1; same=0; i=0
	while [ $same -lt 3 ] && [ $i -lt 60 ]; do
		sleep 1
		cur=$(cat $FP/stats/reported_bytes)
		if [ "$cur" = "$last" ]; then same=$((same + 1)); else same=0; fi
		last=$cur; i=$((i + 1))
	done
}
# host_turn NAME SECS [CMD...]: a quiet turn in which the host reads its
# counters.  Once reporting has settled, hinting goes off (the write
# returns once a report in flight is done), so no late report can land
# between the guest's figures and the host's read; the stats before and
# after let the host tell the guest really held still.  CMD (with NAME
# appended) prints more for the host before @@HOST-TURN.
host_turn() {
	turn=$1; secs=$2; shift 2
	wait_quiet
	echo 0 > $FP/enabled
	stats_line
	if [ $# -gt 0 ]; then "$@" "$turn"; fi
	echo "@@HOST-TURN $turn"
	sleep "$secs"
	echo "@@HOST-DONE $turn"
	stats_line
	echo 1 > $FP/enabled
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
