#!/usr/bin/env bash
# t_proxy: the fault proxy (faultproxy.py) itself, between libiscsi / lunaris
# and tgtd: plain relaying with data checked, then cut, stall/resume,
# drop-up/drop-down, refuse/accept, stats, errors and quit.
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY" iscsi-inq iscsi-perf

T=iqn.2024-01.test.lunaris:proxy
tgtd_start a
tgtd_target a 1 "$T"
tgtd_lun a 1 1 "$TD/a/lun1.img" 16
tgtd_lun a 1 2 null
IMG=$TD/a/lun1.img
proxy_start "$TGTD_PORT"
U1=iscsi://127.0.0.1:$PROXY_PORT/$T/1
U2=iscsi://127.0.0.1:$PROXY_PORT/$T/2

stat_of() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<" $1"; }

# --- plain relay: libiscsi inquiry, lunaris data round trip
out=$(lis iscsi-inq "$U1" 2>&1) || fail "iscsi-inq through the proxy: $out"
assert_contains "$out" "Vendor:IET" "iscsi-inq through the proxy"
s=$(proxy_cmd stats) || fail "stats: $s"
assert_match "$s" "^accepted=[0-9]+ refused=0 open=[0-9]+ bytes_up=[1-9][0-9]* bytes_down=[1-9]" "stats after an inquiry"

rand_file "$TD/in" $((4 << 20))
lun_ok write "$U1" --offset 1048576 -i "$TD/in"
extract "$IMG" 1048576 $((4 << 20)) "$TD/back"
assert_file_eq "$TD/in" "$TD/back" "write through the proxy: backing file"
lun_ok read "$U1" --offset 1048576 --length $((4 << 20)) -o "$TD/out"
assert_file_eq "$TD/in" "$TD/out" "read through the proxy"
s=$(proxy_cmd stats)
[ "$(stat_of "$s" bytes_up)" -ge $((4 << 20)) ] || fail "bytes_up below 4 MiB: $s"
[ "$(stat_of "$s" bytes_down)" -ge $((4 << 20)) ] || fail "bytes_down below 4 MiB: $s"
wait_until 5 eval '[ "$(proxy_stat open)" = 0 ]' || fail "connections still open: $(proxy_cmd stats)"

# --- rate: 4 MiB at 8 MB/s takes >= 0.45 s; rate 0 lifts the limit
assert_eq "ok rate=8000000" "$(proxy_cmd rate 8000000)" "rate answer"
assert_match "$(proxy_cmd stats)" "rate=8000000" "stats show the rate"
t0=$(now)
lun_ok write "$U1" --offset 1048576 -i "$TD/in"
t=$(elapsed "$t0")
in_range "$t" 0.45 5 || fail "4 MiB write at 8 MB/s took ${t}s"
assert_eq "ok rate=0" "$(proxy_cmd rate 0)" "rate 0 answer"
a=$(proxy_cmd rate -5)
assert_match "$a" "^error rate" "negative rate refused"
extract "$IMG" 1048576 $((4 << 20)) "$TD/back"
assert_file_eq "$TD/in" "$TD/back" "rate-limited write: backing file"

# --- cut under iscsi-perf: libiscsi reconnects at once and goes on
# (after a reconnect iscsi-perf's counters go wrong, in_flight -1, and it no
# longer stops on SIGINT: that run is just stopped)
perf_start() {
    iscsi-perf -t 30 "$U2" >"$TD/perf.out" 2>&1 &
    PERF=$!
    _PIDS+=("$PERF")
}
perf_start
wait_until 10 eval '[ "$(proxy_stat bytes_down)" -gt 1000000 ]' ||
    fail "iscsi-perf moves no data: $(proxy_cmd stats)"
a0=$(proxy_stat accepted)
a=$(proxy_cmd cut)
assert_match "$a" "^ok cut=[1-9]" "cut answer"
assert_eq 1 "$(grep -c ' cut n=[1-9]' "$PROXY_LOG")" "one cut line in the log"
grep -q ' close id=[0-9]* why=cut' "$PROXY_LOG" || fail "no close why=cut in the log"
wait_until 10 eval '[ "$(proxy_stat accepted)" -gt '"$a0"' ]' || fail "libiscsi did not reconnect after the cut"
b0=$(proxy_stat bytes_down)
wait_until 10 eval '[ "$(proxy_stat bytes_down)" -gt $((b0 + 100000)) ]' ||
    fail "no data after the reconnect: $(proxy_cmd stats)"
stop_pid "$PERF" 1
proxy_do cut

# --- stall / resume under iscsi-perf: nothing moves, nothing closes
perf_start
wait_until 10 eval '[ "$(proxy_stat bytes_down)" -gt $((b0 + 1000000)) ]' ||
    fail "iscsi-perf moves no data: $(proxy_cmd stats)"
a=$(proxy_cmd stall)
assert_match "$a" "^ok stall open=[1-9]" "stall answer"
sleep 0.3
c0=$(grep -c ' close ' "$PROXY_LOG")
b1=$(proxy_stat bytes_down); u1=$(proxy_stat bytes_up)
sleep 2
b2=$(proxy_stat bytes_down); u2=$(proxy_stat bytes_up)
assert_eq "$b1" "$b2" "bytes_down while stalled"
assert_eq "$u1" "$u2" "bytes_up while stalled"
assert_eq "$c0" "$(grep -c ' close ' "$PROXY_LOG")" "a connection closed while stalled"
[ "$(proxy_stat open)" -ge 1 ] || fail "stall closed the connection: $(proxy_cmd stats)"
assert_match "$(proxy_cmd stats)" "stall=1" "stats show the stall"
assert_match "$(proxy_cmd resume)" "^ok resume" "resume answer"
wait_until 5 eval '[ "$(proxy_stat bytes_down)" -gt $((b2 + 1000000)) ]' ||
    fail "no data after resume: $(proxy_cmd stats)"
kill -INT "$PERF"
wait_until 10 eval '! kill -0 '"$PERF"' 2>/dev/null' || fail "iscsi-perf did not stop on SIGINT"
wait "$PERF"
rc=$?
assert_rc 0 "$rc" "iscsi-perf through stall + resume, stopped by SIGINT ($(tr '\r' '\n' <"$TD/perf.out" | tail -3))"
wait_until 5 eval '[ "$(proxy_stat open)" = 0 ]' || fail "connections still open after perf: $(proxy_cmd stats)"

# --- drop-down: the login response never arrives; drop-up: the request never does
for d in down up; do
    assert_eq "ok drop-$d" "$(proxy_cmd drop-$d)" "drop-$d answer"
    b0=$(proxy_stat bytes_$d)
    timeout 3 iscsi-inq "$U1" >/dev/null 2>&1
    rc=$?
    assert_rc 124 "$rc" "iscsi-inq with drop-$d must hang until the timeout"
    [ "$(proxy_stat dropped_$d)" -gt 0 ] || fail "nothing dropped with drop-$d: $(proxy_cmd stats)"
    assert_eq "$b0" "$(proxy_stat bytes_$d)" "bytes_$d forwarded with drop-$d"
    assert_eq "ok undrop" "$(proxy_cmd undrop)" "undrop answer"
    proxy_do cut
done
out=$(lis iscsi-inq "$U1" 2>&1) || fail "iscsi-inq after undrop: $out"

# --- refuse: accepted and closed at once, counted, logged with a time
assert_eq "ok refuse" "$(proxy_cmd refuse)" "refuse answer"
a0=$(proxy_stat accepted)
for i in 1 2 3; do
    lis iscsi-inq "$U1" >/dev/null 2>&1 && fail "iscsi-inq succeeded while refusing"
done
assert_eq 3 "$(proxy_stat refused)" "refused count"
assert_eq "$a0" "$(proxy_stat accepted)" "accepted count while refusing"
assert_eq 3 "$(proxy_times refuse | wc -l)" "refuse lines in the log"
proxy_times refuse | awk 'NR > 1 && $1 < p { bad = 1 } { p = $1 } END { exit bad }' ||
    fail "refuse timestamps not monotonic"
lun read "$U1" --offset 0 --length 512
assert_rc 2 "$LUN_RC" "lunaris read while refusing"
assert_eq "ok accept" "$(proxy_cmd accept)" "accept answer"
out=$(lis iscsi-inq "$U1" 2>&1) || fail "iscsi-inq after accept: $out"

# --- target down behind the proxy: the client is reset, counted
tgtd_start b
proxy_start "$TGTD_PORT" proxy2
tgtd_stop "$TD/b"
lis iscsi-inq "iscsi://127.0.0.1:$PROXY_PORT/$T/1" >/dev/null 2>&1 && fail "inquiry through a dead target"
assert_match "$(proxy_cmd stats)" "upstream_failed=[1-9]" "upstream failure counted"
grep -q 'why=upstream-ECONNREFUSED' "$PROXY_LOG" || fail "no upstream-ECONNREFUSED in $(cat "$PROXY_LOG")"

# --- errors and quit
a=$(proxy_cmd frobnicate)
assert_rc 1 $? "unknown command"
assert_match "$a" "^error unknown command" "unknown command answer"
assert_match "$(proxy_cmd cut)" "^ok cut=0" "cut with nothing open"
assert_eq "ok quit" "$(proxy_cmd quit)" "quit answer"
wait_until 5 eval '! kill -0 '"$PROXY_PID"' 2>/dev/null || [ "$(awk "{print \$3}" /proc/'"$PROXY_PID"'/stat 2>/dev/null)" = Z ]' ||
    fail "proxy still running after quit"
[ -e "$PROXY_CTL" ] && fail "control socket left behind after quit"
grep -q ' exit accepted=' "$PROXY_LOG" || fail "no exit line in the log"

pass
