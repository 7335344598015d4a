#!/usr/bin/env bash
# t_target_chap: CHAP per target through target-param, against tgtd.
#   - a target that requires CHAP fails to log in until `modify target-param
#     -a chap`; config-one then answers "configured"
#   - mutual CHAP (-B enable with the target's name and secret); a wrong
#     target secret is refused by us, a wrong initiator secret by the target,
#     and config-one reports the reason
#   - the secrets appear in no output, log, trace, or file other than the
#     0600 store
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:tc1
T2=iqn.2024-01.test.lunaris:tc2
T3=iqn.2024-01.test.lunaris:tc3
ISEC=isecretAbc123
TSEC=tsecretXyz789

tgtd_start a
P=$TGTD_PORT
for i in 1 2 3; do
    eval "tgtd_target a $i \$T$i"
    tgtd_lun a "$i" 1 "$TD/a/lun$i.img" 4
done
tadm a --lld iscsi --mode account --op new --user iuser --password "$ISEC" >/dev/null ||
    fail "tgtadm account"
tadm a --lld iscsi --mode account --op new --user tuser --password "$TSEC" >/dev/null ||
    fail "tgtadm account"
for i in 1 2 3; do
    tadm a --lld iscsi --mode account --op bind --tid "$i" --user iuser || fail "bind iuser $i"
done
tadm a --lld iscsi --mode account --op bind --tid 2 --user tuser --outgoing || fail "bind tuser"
sessions_at() { tadm a --lld iscsi --mode conn --op show --tid "$1" 2>/dev/null | grep -c 'Connection:'; }

umask 077
printf '%s\n' "$ISEC" >"$TD/isec"
printf '%s\n' "$TSEC" >"$TD/tsec"
printf '%s\n' "wrongSecret123" >"$TD/wrong"

ALL=$TD/all-output.txt
: >"$ALL"
run() { lun "$@"; cat "$TD/lun.out" "$TD/lun.err" >>"$ALL"; }
run_ok() { run "$@"; [ "$LUN_RC" = 0 ] || fail "lunaris $* -> rc $LUN_RC: $LUN_ERR"; }

"$LUNARISD" -f --state-dir "$TD/state" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
DPID=$!
_PIDS+=("$DPID")
wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
run_ok modify initiator-node --CHAP-name iuser --CHAP-secret-file "$TD/isec"
run_ok add static-config "$T1,127.0.0.1:$P"

# --- CHAP off for T1: tgtd refuses, the reason is the target's
run config-one -t 3 "$T1"
assert_rc 6 "$LUN_RC" "config-one without CHAP"
assert_match "$LUN_ERR" "login to $T1 at 127\.0\.0\.1:$P failed: .*authentication" "reason of the refusal"
assert_eq 0 "$(sessions_at 1)" "sessions without CHAP"

# --- one-way CHAP through target-param
run_ok modify target-param -a chap "$T1"
wait_until 10 eval '[ "$(sessions_at 1)" -eq 1 ]' || fail "no session with CHAP: $("$LUNARIS" list target -v 2>&1)"
run_ok config-one "$T1"
assert_contains "$LUN_OUT" "$T1: configured, 1 session(s)"

# --- mutual CHAP: wrong target secret, then the right one
run_ok add static-config "$T2,127.0.0.1:$P"
run_ok modify target-param -a chap -B enable -H tuser --CHAP-secret-file "$TD/wrong" "$T2"
run config-one -t 5 "$T2"
assert_rc 6 "$LUN_RC" "config-one with a wrong target secret"
assert_match "$LUN_ERR" "$T2.*target.s CHAP_R .* is wrong" "reason for the wrong target secret"
run_ok modify target-param --CHAP-secret-file "$TD/tsec" "$T2"
wait_until 10 eval '[ "$(sessions_at 2)" -eq 1 ]' || fail "no session with mutual CHAP: $("$LUNARIS" list target -v "$T2" 2>&1)"
run_ok config-one "$T2"
run_ok list target-param -v "$T2"
assert_contains "$LUN_OUT" "Bi-directional Authentication: enabled"

# --- wrong initiator secret: the target refuses, with its reason
run_ok modify initiator-node --CHAP-secret-file "$TD/wrong"
run_ok add static-config "$T3,127.0.0.1:$P"
run_ok modify target-param -a chap "$T3"
run config-one -t 5 "$T3"
assert_rc 6 "$LUN_RC" "config-one with a wrong initiator secret"
assert_match "$LUN_ERR" "authentication failure" "the target's reason"
assert_eq 0 "$(sessions_at 3)" "sessions with a wrong secret"
run_ok modify initiator-node --CHAP-secret-file "$TD/isec"
wait_until 10 eval '[ "$(sessions_at 3)" -eq 1 ]' || fail "no session after fixing the secret"

# --- the secrets are nowhere but in the 0600 store
run_ok trace
run_ok list target -vS --json
run_ok list initiator-node
run_ok list target-param -v
assert_eq 600 "$(stat -c %a "$TD/state/lunaris.db")" "store mode"
for s in "$ISEC" "$TSEC" wrongSecret123; do
    assert_not_contains "$(cat "$ALL" "$TD/lunarisd.log")" "$s" "a secret in output or log"
    found=$(grep -rlF -- "$s" "$TD" 2>/dev/null | grep -vE "/(isec|tsec|wrong|lunaris\.db(-wal|-shm)?)$|/a/" || true)
    [ -z "$found" ] || fail "secret found in: $found"
done
grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
