#!/usr/bin/env bash
# t_disc_persist: lunarisd keeps each SendTargets answer in its store and
# starts from it, so a restart logs in to the discovered targets at once,
# even while the discovery address does not answer.
#   - discovery goes through a fault proxy; tgtd's answer names tgtd's own
#     portal, so the session goes direct and only discovery depends on the
#     proxy
#   - the answer is in the store; an identical answer is not written again
#   - restart with the proxy refusing: the session comes up from the
#     remembered answer; `list discovery-address -v --json` says
#     "remembered": true and the targets, the plain listing says so too
#   - the proxy accepts again: a live run answers, "remembered": false
#   - remove discovery-address drops the stored answer: after a restart
#     nothing is remembered and nothing logs in
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:persist1

tgtd_start a
P=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 8
proxy_start "$P"
DP=$PROXY_PORT
sessions_at() { tadm "$1" --lld iscsi --mode conn --op show --tid 1 2>/dev/null | grep -c 'Connection:'; }

DPID=
daemon_stop() {
    stop_pid "$DPID"
    wait_until 10 eval '[ "$(sessions_at a)" -eq 0 ]' || fail "a stopped daemon left its session behind"
}
# the discovery address's -v entry, as JSON (null when not configured)
disc_json() {
    "$LUNARIS" list discovery-address -v --json 2>/dev/null |
        "$PY" -c 'import json,sys; a=json.load(sys.stdin); print(json.dumps(a[0] if a else None))'
}
# field F of the -v entry
disc_field() { disc_json | "$PY" -c "import json,sys; e=json.load(sys.stdin); print(json.dumps(e and e.get('$1')))"; }
# the stored rows (read behind the daemon's back: WAL readers see commits)
stored() {
    "$PY" - "$TD/state/lunaris.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for r in db.execute("SELECT method, source, target, host, port, tpgt, last_seen"
                    " FROM discovered_target ORDER BY id"):
    print(" ".join(str(c) for c in r))
PYEOF
}

daemon_start
# runs are not rate limited here: each `modify discovery` is a run
lun_ok modify initiator-node --tunable-param discovery-min-interval=0
lun_ok add discovery-address "127.0.0.1:$DP"
wait_until 10 eval '[ "$(sessions_at a)" -eq 1 ]' || fail "no session: $("$LUNARIS" list target -v 2>&1)"
wait_until 5 eval '[ "$(disc_field runs)" = 1 ] && [ "$(disc_field running)" = false ]' ||
    fail "discovery did not end: $(disc_json)"
assert_eq false "$(disc_field remembered)" "remembered after a live run"
assert_eq true "$(disc_field discovered)" "discovered"
assert_match "$(disc_field targets)" "\"target\": \"$T1\", \"address\": \"127\.0\.0\.1\", \"port\": $P, \"tpgt\": 1"
# the session goes to tgtd, not through the proxy
lun_ok list target -v
assert_contains "$LUN_OUT" "IP address (Peer): 127.0.0.1:$P"
row="sendtargets 127.0.0.1:$DP $T1 127.0.0.1 $P 1"
s=$(stored)
assert_eq 1 "$(grep -c . <<<"$s")" "stored rows: $s"
assert_contains "$s" "$row"
seen=$(awk '{print $7}' <<<"$s")

# --- the same answer again is not written again (no fsync per run)
sleep 1.2
lun_ok modify discovery --sendtargets enable
wait_until 5 eval '[ "$(disc_field runs)" = 2 ] && [ "$(disc_field running)" = false ]' ||
    fail "second run did not end: $(disc_json)"
assert_eq "null" "$(disc_field last_error)" "second run"
assert_eq "$seen" "$(stored | awk '{print $7}')" "last_seen of an identical answer"

# --- restart while the discovery address refuses: remembered answer
daemon_stop
proxy_do refuse
t0=$(now)
daemon_start
wait_until 10 eval '[ "$(sessions_at a)" -eq 1 ]' ||
    fail "no session from the remembered answer: $(disc_json) $("$LUNARIS" list target -v 2>&1)"
log "session from the remembered answer after $(elapsed "$t0") s"
wait_until 10 eval '[ "$(disc_field failures)" -ge 1 ]' || fail "discovery was not refused: $(disc_json)"
[ "$(proxy_stat refused)" -ge 1 ] || fail "the proxy refused nothing"
assert_eq true "$(disc_field remembered)" "remembered while the address refuses"
assert_eq true "$(disc_field discovered)" "discovered (remembered)"
assert_eq "$seen" "$(disc_field remembered_at)" "remembered_at is the stored answer's time"
assert_match "$(disc_field targets)" "\"target\": \"$T1\", \"address\": \"127\.0\.0\.1\", \"port\": $P, \"tpgt\": 1"
assert_ne null "$(disc_field last_error)" "last_error of the refused run"
lun_ok list discovery-address -v
assert_contains "$LUN_OUT" "Remembered: yes"
assert_contains "$LUN_OUT" "Target name: $T1"
lun_ok list target -v
assert_contains "$LUN_OUT" "IP address (Peer): 127.0.0.1:$P"
# a failed run leaves the stored answer as it was
assert_contains "$(stored)" "$row"

# --- the address answers again: the live answer replaces the remembered one
proxy_do accept
lun_ok modify discovery --sendtargets enable
wait_until 10 eval '[ "$(disc_field remembered)" = false ]' || fail "no live answer: $(disc_json)"
assert_eq true "$(disc_field discovered)" "discovered (live)"
assert_eq "null" "$(disc_field last_error)" "live run"
lun_ok list discovery-address -v
assert_not_contains "$LUN_OUT" "Remembered"
assert_contains "$LUN_OUT" "Target name: $T1"
assert_eq 1 "$(sessions_at a)" "sessions after the live run"

# --- remove discovery-address: the stored answer goes too
lun_ok remove discovery-address "127.0.0.1:$DP"
assert_eq "" "$(stored)" "stored rows after remove discovery-address"
# (added back while refused: its run at once finds nothing to store)
proxy_do refuse
lun_ok add discovery-address "127.0.0.1:$DP"
wait_until 10 eval '[ "$(disc_field failures)" -ge 1 ]' || fail "discovery did not run: $(disc_json)"
assert_eq "" "$(stored)" "stored rows after a refused run"
daemon_stop
daemon_start
wait_until 10 eval '[ "$(disc_field failures)" -ge 1 ]' || fail "discovery did not run: $(disc_json)"
sleep 1
assert_eq false "$(disc_field remembered)" "remembered after remove and add"
assert_eq false "$(disc_field discovered)" "discovered after remove and add"
assert_eq "[]" "$(disc_field targets)" "targets after remove and add"
assert_eq 0 "$(sessions_at a)" "sessions with nothing remembered"
lun_ok remove discovery-address "127.0.0.1:$DP"
daemon_stop

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
