#!/usr/bin/env bash
# t_devcache: the device cache keeps names across restarts; cleanup removes
# the ones nothing can serve (devfsadm -C).
#   - an LU seen once is cached; stop the daemon, remove the target from
#     tgtd, start again: the name is listed, offline
#   - opening it (NBD) fails with an error within open-timeout and the cause
#     of the config_one it ran is in the trace
#   - cleanup -n lists it and removes nothing; cleanup removes it; after a
#     restart it stays gone; an online name is never removed
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need nbdinfo
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:cache1
T2=iqn.2024-01.test.lunaris:cache2

tgtd_start a
P=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 16
tgtd_target a 2 "$T2"
tgtd_lun a 2 1 "$TD/a/lun2.img" 8

DPID=
state_of() {   # state_of NAME -> online|offline|absent
    "$LUNARIS" list lu --json 2>/dev/null | "$PY" -c '
import json, sys
for l in json.load(sys.stdin):
    if l["name"] == sys.argv[1]: print(l["state"]); break
else: print("absent")' "$1"
}

daemon_start
lun_ok add discovery-address "127.0.0.1:$P"
wait_until 10 eval '[ "$("$LUNARIS" list lu 2>/dev/null | grep -c "State: online")" -eq 2 ]' ||
    fail "two LUs did not come online: $("$LUNARIS" list lu 2>&1)"
lun_ok list target -S "$T1"
N1=$(sed -n 's/.*Device Name: \(c0t[0-9A-F]*d0\).*/\1/p' <<<"$LUN_OUT" | tail -1)
lun_ok list target -S "$T2"
N2=$(sed -n 's/.*Device Name: \(c0t[0-9A-F]*d0\).*/\1/p' <<<"$LUN_OUT" | tail -1)
[ -n "$N1" ] && [ -n "$N2" ] || fail "no device names: $LUN_OUT"

# --- the target goes away while the daemon is down: the name stays, offline
stop_pid "$DPID"
tadm a --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 || fail "tgtadm lun delete"
tadm a --lld iscsi --mode target --op delete --tid 1 || fail "tgtadm target delete"
daemon_start
wait_until 10 eval '[ "$(state_of "$N2")" = online ]' || fail "$N2 not back online"
assert_eq offline "$(state_of "$N1")" "state of the cached name whose target is gone"
lun_ok list lu -v "$N1"
assert_contains "$LUN_OUT" "State: offline"
assert_contains "$LUN_OUT" "Path: $T1 @ 127.0.0.1:$P"

# --- opening it: config_one, then a clear failure within open-timeout
lun_ok modify initiator-node -T open-timeout=3
t0=$(now)
if out=$(timeout 20 nbdinfo "nbd+unix:///$N1?socket=$LUNARIS_RUN_DIR/nbd.sock" 2>&1); then
    fail "opening an offline name succeeded: $out"
fi
took=$(elapsed "$t0")
in_range "$took" 2 8 || fail "open of an offline name failed after $took s (open-timeout 3 s)"
log "open of the offline name failed after $took s: $(head -c 200 <<<"$out")"
lun_ok trace
assert_match "$LUN_OUT" "config_one $T1 <- nbd by pid [0-9]+ \(nbdinfo\)" "cause of the config_one"

# --- cleanup: -n changes nothing; then the offline name goes, the online stays
lun_ok cleanup -n
assert_contains "$LUN_OUT" "would remove $N1"
assert_not_contains "$LUN_OUT" "$N2"
assert_eq offline "$(state_of "$N1")" "after cleanup -n"
lun cleanup "$N2"
assert_rc 4 "$LUN_RC" "cleanup of an online name"
assert_eq online "$(state_of "$N2")" "an online name survives cleanup"
lun_ok cleanup
assert_contains "$LUN_OUT" "removed $N1"
assert_eq absent "$(state_of "$N1")" "after cleanup"
stop_pid "$DPID"
daemon_start
wait_until 10 eval '[ "$(state_of "$N2")" = online ]' || fail "$N2 not back online after restart"
assert_eq absent "$(state_of "$N1")" "a cleaned name after restart"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
