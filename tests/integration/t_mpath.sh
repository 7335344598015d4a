#!/usr/bin/env bash
# t_mpath: one logical unit, two paths (MPxIO in userspace).
#   Two static configs reach the same tgtd LU through two fault proxies, so
#   the daemon sees two portals of one target: `list lu` shows one LU
#   (same VPD 0x83 identifier) with two paths.
#   - policies: round-robin spreads commands over both paths, none keeps to
#     one, logical-block sends a region to one path (per-path counters)
#   - cut one path during an nbdcopy into the NBD export, and during a 256 MiB
#     dd through the FUSE file: both complete and the target's backing file
#     equals the source
#   - both paths down longer than no-path-timeout: I/O fails with an error in
#     time, nothing hangs; paths back: I/O works again
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need nbdcopy nbdinfo
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T=iqn.2024-01.test.lunaris:mp1
MB=256

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
wait_until 10 eval '[ "$(online_paths)" = 2 ]' || fail "one LU with two online paths expected: $("$LUNARIS" list lu -v 2>&1)"
N=$(lu_json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')
URI="nbd+unix:///$N?socket=$LUNARIS_RUN_DIR/nbd.sock"
lun_ok list lu -v "$N"
assert_contains "$LUN_OUT" "Total Path Count: 2"
assert_contains "$LUN_OUT" "Path: $T @ 127.0.0.1:$P1"
assert_contains "$LUN_OUT" "Path: $T @ 127.0.0.1:$P2"

# commands per path, as "N1 N2" in path order
counts() { lu_json | "$PY" -c 'import json,sys; print(*[p["commands"] for p in json.load(sys.stdin)[0]["paths"]])'; }
delta() {   # delta "A1 A2" "B1 B2" -> "B1-A1 B2-A2"
    local a=($1) b=($2)
    echo "$((b[0] - a[0])) $((b[1] - a[1]))"
}
rand_file "$TD/src" $((16 << 20))
copy_in() { nbdcopy --request-size=262144 "$TD/src" "$URI" || fail "nbdcopy into $N failed"; }

# --- round-robin (the default): both paths
c0=$(counts); copy_in; read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "round-robin: commands per path $d1 / $d2"
[ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] || fail "round-robin used one path only ($d1 / $d2)"
lo=$(( (d1 + d2) / 4 ))
[ "$d1" -ge "$lo" ] && [ "$d2" -ge "$lo" ] || fail "round-robin is lopsided ($d1 / $d2)"
# the LU's own counters are its paths' sums
lu_json | "$PY" -c '
import json, sys
l = json.load(sys.stdin)[0]
for k in ("commands", "bytes_read", "bytes_written", "errors"):
    assert l["stats"][k] == sum(p[k] for p in l["paths"]), (k, l)
assert l["stats"]["bytes_written"] >= 16 << 20, l["stats"]' || fail "per-LU statistics"
lun_ok list lu -v "$N"
assert_match "$LUN_OUT" "Commands: [0-9]+, Bytes: [0-9]+ read/[0-9]+ written, Errors: 0"

# --- none: failover only, one path takes everything
lun_ok modify lu --policy none "$N"
c0=$(counts); copy_in; read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "none: commands per path $d1 / $d2"
[ $((d1 * d2)) -eq 0 ] && [ $((d1 + d2)) -gt 0 ] || fail "policy none spread I/O ($d1 / $d2)"

# --- logical-block: one region -> one path; small regions spread
lun_ok modify lu --policy logical-block --region-size 1048576 "$N"
c0=$(counts); copy_in; read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "logical-block, 512 MiB regions: $d1 / $d2"
[ $((d1 * d2)) -eq 0 ] || fail "16 MiB inside one region went to both paths ($d1 / $d2)"
lun_ok modify lu --policy logical-block --region-size 2048 "$N"
c0=$(counts); copy_in; read -r d1 d2 <<<"$(delta "$c0" "$(counts)")"
log "logical-block, 1 MiB regions: $d1 / $d2"
[ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] || fail "1 MiB regions used one path only ($d1 / $d2)"
lun_ok modify lu --policy round-robin "$N"

# --- cut one path in the middle of a copy: it completes, data is right
rand_file "$TD/big" $((MB << 20))
on "$C2" rate 4000000           # slow p2 down so the cut finds commands on it
nbdcopy --request-size=262144 "$TD/big" "$URI" 2>"$TD/copy.err" &
CP=$!
_PIDS+=("$CP")
sleep 2
on "$C2" refuse
on "$C2" cut
t0=$(now)
wait "$CP" || fail "nbdcopy failed after a path was cut: $(cat "$TD/copy.err")"
log "copy finished $(elapsed "$t0") s after the cut"
assert_file_eq "$TD/a/lun1.img" "$TD/big" "backing file after a copy with a path cut"
lun_ok trace
assert_contains "$LUN_OUT" "127.0.0.1:$P2 failed; its commands go to another path"
on "$C2" rate 0
on "$C2" accept
wait_until 30 eval '[ "$(online_paths)" = 2 ]' || fail "the cut path did not come back"

# --- the same through the FUSE file with dd, 256 MiB
F=$LUNARIS_RUN_DIR/dsk/$N
if grep -q " $LUNARIS_RUN_DIR/dsk fuse" /proc/mounts; then
    rand_file "$TD/big2" $((MB << 20))
    on "$C1" rate 8000000
    dd if="$TD/big2" of="$F" bs=1M oflag=direct conv=fsync status=none 2>"$TD/dd.err" &
    DD=$!
    _PIDS+=("$DD")
    sleep 2
    on "$C1" refuse
    on "$C1" cut
    t0=$(now)
    wait "$DD" || fail "dd through FUSE failed after a path was cut: $(cat "$TD/dd.err")"
    log "dd finished $(elapsed "$t0") s after the cut"
    assert_file_eq "$TD/a/lun1.img" "$TD/big2" "backing file after dd with a path cut"
    on "$C1" rate 0
    on "$C1" accept
    wait_until 30 eval '[ "$(online_paths)" = 2 ]' || fail "the cut path did not come back"
else
    log "no FUSE mount (no /dev/fuse?): the dd case is skipped"
fi

# --- every path down during a copy: errors within no-path-timeout, no hang
lun_ok modify initiator-node -T no-path-timeout=4,replacement-timeout=60
on "$C1" rate 2000000; on "$C2" rate 2000000
nbdcopy --request-size=262144 "$TD/big" "$URI" 2>"$TD/nopath.err" &
CP=$!
_PIDS+=("$CP")
sleep 2
on "$C1" refuse; on "$C2" refuse
on "$C1" cut; on "$C2" cut
t0=$(now)
wait_until 30 eval '! kill -0 "$CP" 2>/dev/null' || fail "nbdcopy hangs with no path"
wait "$CP" && fail "a copy with no path succeeded"
took=$(elapsed "$t0")
log "with no path, the copy failed after $took s: $(head -c 200 "$TD/nopath.err")"
in_range "$took" 3 15 || fail "no-path failure after $took s (no-path-timeout 4 s)"
lun_ok trace
assert_contains "$LUN_OUT" "no path within no-path-timeout"
on "$C1" rate 0; on "$C2" rate 0
on "$C1" accept; on "$C2" accept
wait_until 60 eval '[ "$(online_paths)" = 2 ]' || fail "paths did not come back"
copy_in
extract "$TD/a/lun1.img" 0 $((16 << 20)) "$TD/back"
assert_file_eq "$TD/back" "$TD/src" "data written after the paths came back"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
