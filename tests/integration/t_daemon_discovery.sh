#!/usr/bin/env bash
# t_daemon_discovery: lunarisd discovers a tgtd with SendTargets.
#   - `add discovery-address` runs one discovery session at once: the target
#     sees one login; `list discovery-address -v` shows both targets
#   - `lunaris trace` shows the blog's sequence (free T1, in_login T5,
#     logged_in T9, in_logout T17) with the cause chain down to the CLI pid
#   - storm guard: 20 requests in a burst cause no further login at once and
#     at most one more after the 10 s interval
#   - a restarted daemon discovers its configured addresses again
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run

tgtd_start a --debug
P=$TGTD_PORT
tgtd_target a 1 iqn.2024-01.test.lunaris:disc1
tgtd_target a 2 iqn.2024-01.test.lunaris:disc2
# Discovery logins: every login (login_start) minus the normal sessions
# tgtd created (session_create); the daemon logs in to what it discovers.
logins() {
    echo $(($(grep -o 'login_start(' "$TD/a/tgtd.log" | wc -l) -
            $(grep -o 'session_create(' "$TD/a/tgtd.log" | wc -l)))
}

DPID=
found() { "$LUNARIS" list discovery-address -v 2>/dev/null | grep -c "Target name: iqn.2024-01.test.lunaris:disc"; }
# both discovered targets logged in (their logins are not discovery logins)
both_up() { [ "$("$LUNARIS" list target 2>/dev/null | grep -c "Connections: 1")" -eq 2 ]; }

daemon_start
before=$(logins)
lun_ok add discovery-address "127.0.0.1:$P"
wait_until 10 eval '[ "$(found)" -eq 2 ]' || fail "targets not discovered: $("$LUNARIS" list discovery-address -v 2>&1)"
wait_until 10 both_up || fail "discovered targets not logged in: $("$LUNARIS" list target 2>&1)"
assert_eq 1 $(($(logins) - before)) "logins at the target for one add"
lun_ok list discovery-address -v
assert_contains "$LUN_OUT" "Target address: 127.0.0.1:$P, 1"

lun_ok trace
seq=$(grep 'discovery@' <<<"$LUN_OUT" | grep -oE '(free|in_login|logged_in|in_logout) T[0-9]+ -> [a-z_]+')
want=$'free T1 -> in_login\nin_login T5 -> logged_in\nlogged_in T9 -> in_logout\nin_logout T17 -> free'
assert_eq "$want" "$seq" "the blog's sequence in lunaris trace"
assert_match "$LUN_OUT" "free T1 -> in_login \(discovery sendtargets 127\.0\.0\.1:$P <- add discovery-address by pid [0-9]+ \(lunaris\)\)" "cause chain"
lun_ok trace --json
"$PY" -c 'import json,sys; [json.loads(l) for l in sys.stdin if l.strip()]' <<<"$LUN_OUT" || fail "trace --json is not JSON lines"

# --- storm guard
t0=$(now)
before=$(logins)
for _ in $(seq 20); do "$LUNARIS" modify discovery --sendtargets enable >/dev/null || fail "modify failed"; done
sleep 1
assert_eq 0 $(($(logins) - before)) "logins during a burst inside the interval"
lun_ok list discovery-address -v --json
limited=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["rate_limited"])' <<<"$LUN_OUT")
[ "$limited" -ge 20 ] || fail "rate_limited is $limited after 20 requests"
wait_until 15 eval '[ $(($(logins) - before)) -ge 1 ]' || fail "the deferred discovery never ran"
sleep 1
assert_eq 1 $(($(logins) - before)) "logins for 20 requests (one deferred run)"
log "20 requests -> 1 discovery login, $(elapsed "$t0")s after the burst started"

# --- an address where nothing listens: the failure is reported, not retried in a loop
Q=$(free_port)
lun_ok add discovery-address "127.0.0.1:$Q"
wait_until 10 eval '"$LUNARIS" list discovery-address -v --json | grep -q "cannot connect"' ||
    fail "no error for a closed portal: $("$LUNARIS" list discovery-address -v --json 2>&1)"
lun_ok list discovery-address -v --json
"$PY" - "$LUN_OUT" "$Q" <<'PYEOF' || fail "closed portal: $LUN_OUT"
import json, sys
e = [a for a in json.loads(sys.argv[1]) if a["port"] == int(sys.argv[2])][0]
assert e["failures"] == 1 and e["runs"] == 1 and e["targets"] == [], e
PYEOF
lun_ok trace
assert_match "$LUN_OUT" "discovery sendtargets 127\.0\.0\.1:$Q failed: cannot connect" "failure in the trace"
lun_ok remove discovery-address "127.0.0.1:$Q"

# --- restart: configured addresses are discovered again
stop_pid "$DPID" 5
before=$(logins)
daemon_start
wait_until 10 eval '[ "$(found)" -eq 2 ]' || fail "not rediscovered after restart"
wait_until 10 both_up || fail "not logged in again after restart"
assert_eq 1 $(($(logins) - before)) "logins after a restart"
lun_ok trace
assert_match "$LUN_OUT" "discovery sendtargets 127\.0\.0\.1:$P <- lunarisd start" "restart cause"
stop_pid "$DPID" 5
pass
