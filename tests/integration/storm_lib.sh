# shellcheck shell=bash
# tests/integration/storm_lib.sh - the stale-name login-storm scenario of
# the 2006 blog, shared by t_storm_stale.sh, scripts/storm-demo and
# bench/storm-hour.  Source it after lib.sh.
#
#   stale_setup  tgtd (--debug, on a free port) with two targets: STALE_T
#                (LUN 1, the one that goes away) and KEEP_T (LUN 1, stays,
#                so that tgtd keeps a target: tgtd closes every connection
#                before any login while it has no target at all, and the
#                storm would not reach its login counter); lunarisd with a
#                SendTargets discovery address configures both LUs; the
#                daemon is stopped, STALE_T is removed at tgtd, the daemon
#                is started again: STALE_NAME stays in the device cache,
#                offline.  Sets P (portal port), STALE_NAME, KEEP_NAME, RUN,
#                DPID, LUNARIS_RUN_DIR.
#   disc_logins  discovery logins seen by tgtd so far: login_start (every
#                login) minus session_create (normal sessions only; a
#                discovery session creates none)
#   lu_state N   online|offline|absent
# shellcheck disable=SC2016,SC2034,SC2015  # wait_until conditions are eval'd later
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
RUN=$LUNARIS_RUN_DIR
STALE_T=iqn.2024-01.test.lunaris:stale
KEEP_T=iqn.2024-01.test.lunaris:keep
STORMOPEN=$LIB_DIR/stormopen.py
DPID=


disc_logins() {
    local a b
    a=$(grep -c 'login_start(' "$TD/a/tgtd.log")
    b=$(grep -c 'session_create(' "$TD/a/tgtd.log")
    echo $((a - b))
}

lu_state() {
    "$LUNARIS" list lu --json 2>/dev/null | "$PY" -c '
import json, sys
for l in json.load(sys.stdin):
    if l["name"] == sys.argv[1]: print(l["state"]); break
else: print("absent")' "$1"
}

_lu_name_of() {   # _lu_name_of TARGET -> the device name of its LUN 1
    "$LUNARIS" list target -vS --json "$1" | "$PY" -c '
import json, sys
for s in json.load(sys.stdin)[0]["sessions"]:
    for l in s["luns"]:
        if l["lun"] == 1: print(l["name"]); sys.exit(0)'
}

stale_setup() {
    tgtd_start a --debug
    P=$TGTD_PORT
    tgtd_target a 1 "$STALE_T"
    tgtd_lun a 1 1 "$TD/a/lun1.img" 4
    tgtd_target a 2 "$KEEP_T"
    tgtd_lun a 2 1 "$TD/a/lun2.img" 4
    daemon_start
    lun_ok add discovery-address "127.0.0.1:$P"
    wait_until 15 eval '[ "$("$LUNARIS" list lu 2>/dev/null | grep -c "State: online")" -eq 2 ]' ||
        fail "the two LUs did not come online: $("$LUNARIS" list lu 2>&1)"
    STALE_NAME=$(_lu_name_of "$STALE_T")
    KEEP_NAME=$(_lu_name_of "$KEEP_T")
    [ -n "$STALE_NAME" ] && [ -n "$KEEP_NAME" ] || fail "no device names"
    # the target goes away while the daemon is down; the name stays cached
    stop_pid "$DPID" 10
    tadm a --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 || fail "tgtadm lun delete"
    tadm a --lld iscsi --mode target --op delete --tid 1 || fail "tgtadm target delete"
    daemon_start
    wait_until 15 eval '[ "$(lu_state "$KEEP_NAME")" = online ]' || fail "$KEEP_NAME not back online"
    [ "$(lu_state "$STALE_NAME")" = offline ] || fail "$STALE_NAME is $(lu_state "$STALE_NAME"), not offline"
}
