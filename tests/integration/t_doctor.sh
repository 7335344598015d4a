#!/usr/bin/env bash
# t_doctor: `lunaris doctor` explains the login storm in one command.
#   - a healthy daemon (a tgtd target logged in): exit 0, "healthy"
#   - a stale name (seen once, target removed while the daemon was down),
#     storm protection off, opened ten times through NBD: exit 1; doctor
#     names the portal's repeated discovery logins, the stale name, the
#     opener (nbdinfo), and prints "lunaris cleanup NAME" and the
#     storm-protection warning; after that cleanup the name is not reported
#   - a target that requires CHAP we do not have right: a finding with the
#     target's reason
#   - --json parses and agrees with the plain output; doctor takes < 1 s
#   - no daemon: exit 2
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need nbdinfo
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:doc1
T2=iqn.2024-01.test.lunaris:doc2
T3=iqn.2024-01.test.lunaris:doc3

# doctor_timed ARGS... -> lun doctor ARGS, and fail when it took 1 s or more
doctor_timed() {
    local t0 took
    t0=$(date +%s.%N)
    lun doctor "$@"
    took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
    awk -v t="$took" 'BEGIN { exit !(t < 1.0) }' || fail "lunaris doctor $* took $took s"
    log "doctor $* -> rc $LUN_RC in $took s"
}

# json_agrees: the plain output ($1) and the --json output ($2) tell the
# same: healthy, the same summaries and the same fixes, in order (numbers
# aside: the two runs are a moment apart, and ages and rates move)
json_agrees() {
    "$PY" - "$1" "$2" <<'PYEOF' || fail "--json and the plain output disagree"
import json, re, sys
digits = lambda s: re.sub(r"[0-9.]+", "#", s)
plain, rep = digits(sys.argv[1]), json.loads(sys.argv[2])
assert isinstance(rep["healthy"], bool)
assert plain.splitlines()[0].startswith("lunaris doctor: " + ("healthy" if rep["healthy"] else ""))
pos = 0
for f in rep["findings"]:
    assert f["severity"] in ("error", "warning", "note"), f
    assert isinstance(f["kind"], str) and isinstance(f["evidence"], list)
    i = plain.find(digits("[%s] %s" % (f["severity"], f["summary"])), pos)
    assert i >= 0, f["summary"]
    pos = i
    for c in f["fix"]:
        assert plain.find(digits("Fix: " + c), pos) >= 0, c
serious = [f for f in rep["findings"] if f["severity"] != "note"]
assert rep["healthy"] == (not serious)
PYEOF
}

tgtd_start a
P=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 8
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

# --- no daemon: exit 2, as the admin commands
lun doctor
assert_rc 2 "$LUN_RC" "doctor without a daemon"
assert_contains "$LUN_ERR" "not running"

# --- (a) healthy
daemon_start
lun_ok add discovery-address "127.0.0.1:$P"
wait_until 10 eval '[ "$("$LUNARIS" list lu 2>/dev/null | grep -c "State: online")" -eq 2 ]' ||
    fail "two LUs did not come online: $("$LUNARIS" list lu 2>&1)"
doctor_timed
assert_rc 0 "$LUN_RC" "doctor of a healthy daemon: $LUN_OUT"
assert_contains "$LUN_OUT" "lunaris doctor: healthy"
plain=$LUN_OUT
doctor_timed --json
assert_rc 0 "$LUN_RC" "doctor --json of a healthy daemon"
json_agrees "$plain" "$LUN_OUT"
lun_ok list target -S "$T1"
N1=$(sed -n 's/.*Device Name: \(c0t[0-9A-F]*d0\).*/\1/p' <<<"$LUN_OUT" | tail -1)
[ -n "$N1" ] || fail "no device name for $T1: $LUN_OUT"

# --- (b) a stale name, opened again and again with storm protection off
stop_pid "$DPID"
tadm a --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 || fail "tgtadm lun delete"
tadm a --lld iscsi --mode target --op delete --tid 1 || fail "tgtadm target delete"
daemon_start
wait_until 10 eval '[ "$(state_of "$N1")" = offline ]' || fail "$N1 is not offline"
lun_ok modify initiator-node -T storm-protection=off,open-timeout=2
for _ in $(seq 10); do
    timeout 10 nbdinfo "nbd+unix:///$N1?socket=$LUNARIS_RUN_DIR/nbd.sock" >/dev/null 2>&1 &&
        fail "opening the stale name succeeded"
done
doctor_timed
assert_rc 1 "$LUN_RC" "doctor with a stale name: $LUN_OUT"
plain=$LUN_OUT
log "doctor says:"$'\n'"$plain"
assert_contains "$plain" "finding"
assert_match "$plain" "127\.0\.0\.1:$P saw (1[0-9]|[2-9][0-9]) discovery logins in the last"
assert_match "$plain" "caused by opens of $N1 \(stale: offline"
assert_match "$plain" "last opened by pid [0-9]+ \(nbdinfo\)"
assert_match "$plain" "chain: pid [0-9]+ \(nbdinfo\) opens $N1 -> config_one $T1 -> discovery -> 127\.0\.0\.1:$P"
assert_contains "$plain" "$N1 is in the device cache, but no session"
assert_contains "$plain" "Fix: lunaris cleanup $N1"
assert_contains "$plain" "storm protection is off"
assert_contains "$plain" "Fix: lunaris modify initiator-node -T storm-protection=on"
doctor_timed --json
assert_rc 1 "$LUN_RC" "doctor --json with a stale name"
json_agrees "$plain" "$LUN_OUT"
"$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
kinds = [f["kind"] for f in r["findings"]]
assert not r["healthy"] and "discovery_storm" in kinds and "stale_lu" in kinds \
    and "storm_protection_off" in kinds, kinds' "$LUN_OUT" || fail "kinds in --json: $LUN_OUT"

# the printed fix works, and the name is no longer reported
fix=$(grep -o "Fix: lunaris cleanup $N1" <<<"$plain" | head -1)
read -r -a cmd <<<"${fix#Fix: lunaris }"
lun_ok "${cmd[@]}"
assert_contains "$LUN_OUT" "removed $N1"
lun_ok modify initiator-node -T storm-protection=on
doctor_timed
assert_not_contains "$LUN_OUT" "$N1" "the cleaned name in doctor's report"
assert_not_contains "$LUN_OUT" "storm protection is off"

# --- (c) a CHAP mismatch: the target requires CHAP, our secret is wrong
tgtd_target a 3 "$T3"
tgtd_lun a 3 1 "$TD/a/lun3.img" 4
tgtd_chap a 3 iuser isecretAbc123
(umask 077; printf 'wrongSecret123\n' >"$TD/wrong")
lun_ok modify initiator-node --CHAP-name iuser --CHAP-secret-file "$TD/wrong"
lun_ok add static-config "$T3,127.0.0.1:$P"
lun_ok modify target-param -a chap "$T3"
lun config-one -t 5 "$T3"
assert_rc 6 "$LUN_RC" "config-one with a wrong secret"
doctor_timed
assert_rc 1 "$LUN_RC" "doctor with a CHAP mismatch"
plain=$LUN_OUT
log "doctor says:"$'\n'"$plain"
assert_match "$plain" "\[error\] $T3 at 127\.0\.0\.1:$P refuses our login: CHAP does not match \(.*authentication failure"
assert_contains "$plain" "Fix: lunaris modify initiator-node --CHAP-secret-file FILE"
assert_not_contains "$plain" "isecretAbc123"
assert_not_contains "$plain" "wrongSecret123"
doctor_timed --json
json_agrees "$plain" "$LUN_OUT"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
