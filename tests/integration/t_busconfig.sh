#!/usr/bin/env bash
# t_busconfig: lunarisd logs in to what discovery finds (config_all) and to
# static configs, scans LUNs, rescans on a LUN change, and brings its
# sessions back after a restart.
#   - add discovery-address: the target's session comes up; `list target -S`
#     shows its LUNs (vendor, product, size, identifier); --json matches
#   - the login's cause chain reaches the CLI pid in `lunaris trace`
#   - a LUN added at the target appears (unit attention -> rescan)
#   - static-config on a second tgtd: logs in; remove: logs out
#   - config-one of a known target answers at once; a restarted daemon logs
#     in again (cause "lunarisd start"), the discovered target too: at once,
#     from the remembered answer (t_disc_persist tests that in depth)
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:bus1
T2=iqn.2024-01.test.lunaris:stat1

tgtd_start a --debug
PA=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 16
tgtd_start b
PB=$TGTD_PORT
tgtd_target b 1 "$T2"
tgtd_lun b 1 1 "$TD/b/lun1.img" 8
sessions_at() { tadm "$1" --lld iscsi --mode conn --op show --tid 1 2>/dev/null | grep -c 'Connection:'; }

DPID=
up() { "$LUNARIS" list target -S 2>/dev/null | grep -c "Device Name: c0t"; }

daemon_start
lun_ok add discovery-address "127.0.0.1:$PA"
wait_until 10 eval '[ "$(up)" -ge 2 ]' || fail "no session with LUNs: $("$LUNARIS" list target -vS 2>&1)"
lun_ok list target -S
assert_contains "$LUN_OUT" "Target: $T1"
assert_contains "$LUN_OUT" "Product: VIRTUAL-DISK"
assert_contains "$LUN_OUT" "Size: 16.0 MiB (16777216 bytes)"
assert_match "$LUN_OUT" "Identifier: 6[0-9A-F]{31}"
assert_match "$LUN_OUT" "ISID: [0-9a-f]{12}"
assert_eq 1 "$(sessions_at a)" "sessions at the target"

# --- JSON and plain agree
lun_ok list target -vS --json
json=$LUN_OUT
JSON=$json "$PY" - "$T1" <<'EOF' || fail "list target --json: $json"
import json, os, sys
t = json.loads(os.environ["JSON"])
assert len(t) == 1 and t[0]["target"] == sys.argv[1], t
s = t[0]["sessions"]
assert len(s) == 1 and s[0]["state"] == "up" and s[0]["connections"] == 1, s
luns = {l["lun"]: l for l in s[0]["luns"]}
assert luns[1]["size"] == 16 << 20 and luns[1]["vendor"] == "IET", luns
assert luns[1]["name"] == "c0t%sd0" % luns[1]["identifier"], luns
assert s[0]["params"]["max_burst_length"] > 0, s[0]["params"]
EOF
lun_ok list target -v
assert_contains "$LUN_OUT" "Discovery Method: SendTargets"
assert_contains "$LUN_OUT" "IP address (Peer): 127.0.0.1:$PA"
assert_contains "$LUN_OUT" "Max Burst Length:"
assert_match "$LUN_OUT" "Login Cause: discovery sendtargets 127\.0\.0\.1:$PA <- add discovery-address by pid [0-9]+ \(lunaris\)"

# --- the cause chain of the login, in the trace
lun_ok trace
assert_match "$LUN_OUT" "$T1@127\.0\.0\.1:$PA free T1 -> in_login \(login 127\.0\.0\.1:$PA $T1 <- discovery sendtargets 127\.0\.0\.1:$PA <- add discovery-address by pid [0-9]+ \(lunaris\)\)" "login cause chain"
assert_match "$LUN_OUT" "$T1@127\.0\.0\.1:$PA in_login T5 -> logged_in"

# --- a new LUN at the target: unit attention, rescan
t0=$(now)
tgtd_lun a 1 2 "$TD/a/lun2.img" 4
wait_until 15 eval '[ "$(up)" -ge 3 ]' || fail "LUN 2 did not appear: $("$LUNARIS" list target -S 2>&1)"
log "LUN 2 appeared after $(elapsed "$t0") s"
lun_ok trace
assert_contains "$LUN_OUT" "REPORTED LUNS DATA HAS CHANGED"
assert_contains "$LUN_OUT" "LUN 2 appeared"

# --- config-one of a configured target answers at once
lun_ok config-one "$T1"
assert_contains "$LUN_OUT" "$T1: configured, 1 session(s), 3 LUN(s)"

# --- static-config: log in; remove: log out
lun_ok add static-config "$T2,127.0.0.1:$PB"
wait_until 10 eval '[ "$(sessions_at b)" -eq 1 ]' || fail "no session for the static config"
wait_until 5 eval '"$LUNARIS" list target -v "$T2" 2>/dev/null | grep -q "Discovery Method: Static"' ||
    fail "static target not listed: $("$LUNARIS" list target -v 2>&1)"
lun_ok remove static-config "$T2,127.0.0.1:$PB"
wait_until 10 eval '[ "$(sessions_at b)" -eq 0 ]' || fail "still logged in after remove static-config"
lun list target "$T2"
assert_rc 4 "$LUN_RC" "list target of a removed static config"
lun_ok add static-config "$T2,127.0.0.1:$PB"
wait_until 10 eval '[ "$(sessions_at b)" -eq 1 ]' || fail "no session for the static config again"

# --- restart: configuration and sessions come back
stop_pid "$DPID"
wait_until 10 eval '[ "$(sessions_at a)" -eq 0 ] && [ "$(sessions_at b)" -eq 0 ]' ||
    fail "a stopped daemon left sessions behind"
daemon_start
wait_until 15 eval '[ "$(up)" -ge 4 ]' || fail "sessions did not come back: $("$LUNARIS" list target -S 2>&1)"
assert_eq 1 "$(sessions_at a)" "sessions at target a after restart"
assert_eq 1 "$(sessions_at b)" "sessions at target b after restart"
lun_ok list target -v
# both at start: the static config, and the discovered target from the
# answer the store remembered (before discovery answers again)
assert_eq 2 "$(grep -c "Login Cause: lunarisd start$" <<<"$LUN_OUT")" "logins caused by the start"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
