#!/usr/bin/env bash
# t_daemon: lunarisd and the admin commands of lunaris, end to end.
#   - add / list / remove of every configuration object, plain and --json
#   - the configuration survives a daemon restart; the store is 0600
#   - kill -9 during 100 back-to-back `add static-config` calls: the store
#     opens and every acknowledged change is there
#   - clear errors: daemon not running (2), not allowed (3), conflict (4),
#     bad address or iSCSI name (1); secrets appear in no output or log
set -u
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"

export LUNARIS_RUN_DIR=$TD/run
STATE=$TD/state
DPID=
daemon_start() {
    "$LUNARISD" -f --state-dir "$STATE" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
    DPID=$!
    _PIDS+=("$DPID")
    wait_until 5 test -S "$LUNARIS_RUN_DIR/control" || fail "lunarisd did not start: $(cat "$TD/lunarisd.log")"
    wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
}
daemon_stop() { stop_pid "$DPID" 5; rm -f "$LUNARIS_RUN_DIR/control"; }

# --- not running
lun list discovery-address
assert_rc 2 "$LUN_RC" "no daemon"
assert_match "$LUN_ERR" "not running" "no daemon: message"

daemon_start
T1=iqn.2024-01.test.lunaris:d1
lun_ok add discovery-address 127.0.0.1:3260 "[::1]:3261"
lun_ok add static-config "$T1,127.0.0.1:3260,1" "$T1,127.0.0.2"
lun_ok add isns-server 127.0.0.1
lun_ok modify discovery --sendtargets enable --iSNS enable --static disable
printf 'secret-%s\n' 0123456789 >"$TD/chap"; chmod 600 "$TD/chap"
lun_ok modify initiator-node --alias host1 --headerdigest crc32c --CHAP-secret-file "$TD/chap" \
    --tunable-param noop-interval=3,replacement-timeout=30

lun_ok list discovery-address
assert_contains "$LUN_OUT" "Discovery Address: 127.0.0.1:3260"
assert_contains "$LUN_OUT" "Discovery Address: [::1]:3261"
lun_ok list static-config
assert_contains "$LUN_OUT" "$T1,127.0.0.1:3260,1"
assert_contains "$LUN_OUT" "$T1,127.0.0.2:3260"
lun_ok list discovery
assert_match "$LUN_OUT" "Static: disabled"
assert_match "$LUN_OUT" "Send Targets: enabled"
assert_match "$LUN_OUT" "iSNS: enabled"
lun_ok list initiator-node
assert_contains "$LUN_OUT" "host1"
plain_node=$LUN_OUT
lun_ok list initiator-node --json
json_node=$LUN_OUT
"$PY" - "$json_node" <<'PYEOF' || fail "list initiator-node --json: $json_node"
import json, sys
n = json.loads(sys.argv[1])
assert n["alias"] == "host1", n
assert n["header-digest"] == "crc32c", n
assert n["chap-secret-set"] is True, n
assert n["tunables"]["noop-interval"] == {"default": 5, "configured": 3}, n
assert n["tunables"]["replacement-timeout"]["configured"] == 30, n
PYEOF
# -R before or after the subcommand
lun_ok -R "$LUNARIS_RUN_DIR" list discovery-address
assert_contains "$LUN_OUT" "Discovery Address: 127.0.0.1:3260"
lun_ok list discovery-address -R "$LUNARIS_RUN_DIR"
assert_contains "$LUN_OUT" "Discovery Address: 127.0.0.1:3260"
lun_ok list discovery-address --json
[ "$("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$LUN_OUT")" = 2 ] ||
    fail "--json list has not 2 addresses: $LUN_OUT"

# --- errors
lun add discovery-address 127.0.0.1:3260
assert_rc 4 "$LUN_RC" "duplicate add"
assert_match "$LUN_ERR" "already configured" "duplicate add: message"
lun remove discovery-address 127.0.0.9
assert_rc 4 "$LUN_RC" "remove of a missing address"
lun add static-config "not-an-iqn,127.0.0.1"
assert_rc 1 "$LUN_RC" "bad iSCSI name"
lun add discovery-address "127.0.0.1:99999"
assert_rc 1 "$LUN_RC" "bad port"
lun frobnicate discovery-address
assert_rc 1 "$LUN_RC" "unknown subcommand"
if id nobody >/dev/null 2>&1; then
    chmod 0777 "$LUNARIS_RUN_DIR/control"   # let nobody reach the socket: the daemon must still say no
    chmod 0755 "$TD"
    out=$(su -s /bin/sh nobody -c "LUNARIS_RUN_DIR=$LUNARIS_RUN_DIR $LUNARIS add discovery-address 10.9.9.9" 2>&1)
    rc=$?
    assert_rc 3 "$rc" "change by nobody: $out"
    assert_match "$out" "permission" "change by nobody: message"
    chmod 0660 "$LUNARIS_RUN_DIR/control"
fi

# --- restart: everything is still there; the store is private
daemon_stop
daemon_start
lun_ok list discovery-address
assert_contains "$LUN_OUT" "127.0.0.1:3260"
lun_ok list static-config
assert_contains "$LUN_OUT" "$T1,127.0.0.1:3260,1"
lun_ok list initiator-node
assert_eq "$plain_node" "$LUN_OUT" "initiator-node after restart"
assert_eq 600 "$(stat -c %a "$STATE/lunaris.db")" "store file mode"
secret=$(head -1 "$TD/chap")
grep -rqF "$secret" "$TD/lunarisd.log" && fail "the CHAP secret is in the daemon log"
grep -qF "$secret" <<<"$plain_node$json_node" && fail "the CHAP secret is in a listing"

# --- kill -9 during back-to-back changes: every acknowledged one survives
acked=0
for i in $(seq 0 99); do
    if "$LUNARIS" add static-config "iqn.2024-01.test.lunaris:k$i,127.0.0.1" >/dev/null 2>&1; then
        acked=$((i + 1))
    else
        break
    fi
    [ "$i" = 60 ] && kill -9 "$DPID"
done
[ "$acked" -ge 61 ] || fail "only $acked adds acknowledged before the kill"
rm -f "$LUNARIS_RUN_DIR/control"
daemon_start
lun_ok list static-config --json
n=$("$PY" -c 'import json,sys; print(sum(t["target"].startswith("iqn.2024-01.test.lunaris:k") for t in json.load(sys.stdin)))' <<<"$LUN_OUT")
[ "$n" -ge "$acked" ] || fail "$acked changes acknowledged, $n in the store after kill -9"
log "kill -9 after $acked acknowledged adds: $n in the store"
lun_ok remove discovery-address 127.0.0.1:3260
lun_ok list discovery-address
assert_not_contains "$LUN_OUT" "127.0.0.1:3260"
daemon_stop
pass
