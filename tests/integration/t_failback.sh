#!/usr/bin/env bash
# t_failback: the preferred path and failback (policy none), and least-queue.
#   The setup of t_mpath: one tgtd LU reached through two fault proxies, two
#   static configs, so one LU with two paths.
#   - policy none, preferred path 1, failback on (the default): I/O goes to
#     path 1; cut path 1 -> I/O on path 2; path 1 back -> I/O returns to
#     path 1 (per-path counters of `list lu --json`)
#   - failback disabled: after the same cut and return, I/O stays on path 2
#   - least-queue (no preferred path): nbdcopy with requests in flight uses
#     both paths; with path 2 slowed down, path 1 takes most commands
#   - modify lu rejects a preferred path the LU does not have
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need nbdcopy
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T=iqn.2024-01.test.lunaris:fb1
MB=64

tgtd_start a
P=$TGTD_PORT
tgtd_target a 1 "$T"
tgtd_lun a 1 1 "$TD/a/lun1.img" "$MB"
proxy_start "$P" p1
P1=$PROXY_PORT C1=$PROXY_CTL
proxy_start "$P" p2
P2=$PROXY_PORT C2=$PROXY_CTL
on() { PROXY_CTL=$1; shift; proxy_do "$@"; }   # on CTL CMD: a command to one proxy

"$LUNARISD" -f --state-dir "$TD/state" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
_PIDS+=("$!")
wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
lun_ok modify discovery --sendtargets disable
lun_ok add static-config "$T,127.0.0.1:$P1" "$T,127.0.0.1:$P2"
lu_json() { "$LUNARIS" list lu --json 2>/dev/null; }
online_paths() {
    lu_json | "$PY" -c 'import json,sys; l=json.load(sys.stdin); print(sum(p["state"]=="online" for x in l for p in x["paths"]) if len(l)==1 else -1)'
}
path_state() {   # path_state PORT -> state of the path through that proxy port
    lu_json | "$PY" -c 'import json,sys; print(*[p["state"] for p in json.load(sys.stdin)[0]["paths"] if p["port"] == '"$1"'])'
}
wait_until 10 eval '[ "$(online_paths)" = 2 ]' || fail "one LU with two online paths expected: $("$LUNARIS" list lu -v 2>&1)"
N=$(lu_json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')
URI="nbd+unix:///$N?socket=$LUNARIS_RUN_DIR/nbd.sock"

# commands per path, as "N1 N2" for path 1 (P1) and path 2 (P2)
counts() {
    lu_json | "$PY" -c '
import json,sys
ps = {p["port"]: p["commands"] for p in json.load(sys.stdin)[0]["paths"]}
print(ps['"$P1"'], ps['"$P2"'])'
}
delta() {   # delta "A1 A2" "B1 B2" -> "B1-A1 B2-A2"
    local a=($1) b=($2)
    echo "$((b[0] - a[0])) $((b[1] - a[1]))"
}
rand_file "$TD/src" $((16 << 20))
copy_in() { nbdcopy --request-size=262144 "$TD/src" "$URI" || fail "nbdcopy into $N failed"; }
measure() {   # measure LABEL -> sets d1 d2 for one copy
    local c0
    c0=$(counts); copy_in; read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
    log "$1: commands on path 1 / path 2: $d1 / $d2"
}
cut1() {
    on "$C1" refuse; on "$C1" cut
    wait_until 10 eval '[ "$(path_state "$P1")" != online ]' || fail "path 1 still online after the cut"
}
back1() {
    on "$C1" accept
    wait_until 30 eval '[ "$(online_paths)" = 2 ]' || fail "path 1 did not come back"
}

# --- bad preferred paths are refused, nothing changes
lun modify lu --preferred-path "$T,127.0.0.1:1" "$N"
assert_ne 0 "$LUN_RC" "a preferred path the LU does not have"
assert_contains "$LUN_ERR" "has no path"
lun modify lu --preferred-path "nonsense" "$N"
assert_ne 0 "$LUN_RC" "a preferred path that is no TARGET,HOST:PORT"
lun modify lu --failback maybe "$N"
assert_ne 0 "$LUN_RC" "--failback maybe"

# --- policy none, preferred path 1, failback on
lun_ok modify lu --policy none --preferred-path "$T,127.0.0.1:$P1" --failback enable "$N"
lun_ok list lu -v "$N"
assert_contains "$LUN_OUT" "Failback: enabled"
assert_contains "$LUN_OUT" "Preferred Path: $T,127.0.0.1:$P1"
pref=$(lu_json | "$PY" -c 'import json,sys; print(*[p["preferred"] for p in json.load(sys.stdin)[0]["paths"] if p["port"] == '"$P1"'])')
assert_eq True "$pref" "path 1 is marked preferred"
measure "none, preferred path 1"
[ "$d1" -gt 0 ] && [ "$d2" -eq 0 ] || fail "I/O not on the preferred path 1 ($d1 / $d2)"
cut1
measure "none, path 1 cut"
[ "$d1" -eq 0 ] && [ "$d2" -gt 0 ] || fail "I/O not on path 2 with path 1 cut ($d1 / $d2)"
back1
measure "none, path 1 back, failback on"
[ "$d1" -gt 0 ] && [ "$d2" -eq 0 ] || fail "no failback to path 1 ($d1 / $d2)"

# --- failback disabled: stays on path 2
lun_ok modify lu --failback disable "$N"
lun_ok list lu -v "$N"
assert_contains "$LUN_OUT" "Failback: disabled"
assert_contains "$LUN_OUT" "Policy: none"
cut1
measure "none, path 1 cut, failback off"
[ "$d1" -eq 0 ] && [ "$d2" -gt 0 ] || fail "I/O not on path 2 with path 1 cut ($d1 / $d2)"
back1
measure "none, path 1 back, failback off"
[ "$d1" -eq 0 ] && [ "$d2" -gt 0 ] || fail "failback although disabled ($d1 / $d2)"

# --- least-queue: both paths under nbdcopy with requests in flight
lun_ok modify lu --policy least-queue --preferred-path none "$N"
lun_ok list lu -v "$N"
assert_not_contains "$LUN_OUT" "Preferred Path:"
maxq=0
c0=$(counts)
nbdcopy --request-size=262144 --requests=16 "$TD/src" "$URI" 2>"$TD/lq.err" &
CP=$!
_PIDS+=("$CP")
while kill -0 "$CP" 2>/dev/null; do
    q=$(lu_json | "$PY" -c 'import json,sys; print(sum(p["outstanding"] for p in json.load(sys.stdin)[0]["paths"]))' 2>/dev/null)
    [ -n "$q" ] && [ "$q" -gt "$maxq" ] && maxq=$q
done
wait "$CP" || fail "nbdcopy (least-queue) failed: $(cat "$TD/lq.err")"
read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "least-queue: commands on path 1 / path 2: $d1 / $d2, at most $maxq in flight seen"
[ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] || fail "least-queue used one path only ($d1 / $d2)"
on "$C2" rate 4000000            # path 2 slow: its queue stays longer
c0=$(counts)
nbdcopy --request-size=262144 --requests=16 "$TD/src" "$URI" || fail "nbdcopy (least-queue, slow path 2) failed"
read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "least-queue, path 2 slowed down: $d1 / $d2"
[ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] || fail "least-queue used one path only with path 2 slow ($d1 / $d2)"
[ "$d1" -gt "$d2" ] || fail "least-queue gave the slow path as much ($d1 / $d2)"
on "$C2" rate 0
extract "$TD/a/lun1.img" 0 $((16 << 20)) "$TD/back"
assert_file_eq "$TD/back" "$TD/src" "data after the failback and least-queue copies"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
