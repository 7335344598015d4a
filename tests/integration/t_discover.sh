#!/usr/bin/env bash
# t_discover: `lunaris discover` (text and --json) against tgtd with two
# targets, compared with libiscsi's iscsi-ls; the --trace of a discovery
# shows the connection state machine in the blog's order.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" iscsi-ls /usr/bin/python3

T1=iqn.2024-01.test.lunaris:disc1
T2=iqn.2024-01.test.lunaris:disc2
tgtd_start a
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 null
tgtd_target a 2 "$T2"
tgtd_lun a 2 1 null
P=$TGTD_PORT

# --- text output vs iscsi-ls
lun_ok discover "127.0.0.1:$P"
ours=$(sort <<<"$LUN_OUT")
theirs=$(lis iscsi-ls "iscsi://127.0.0.1:$P" |
         sed -n 's/^Target:\([^ ]*\) Portal:\(.*\)$/\1 \2/p' | sort)
[ -n "$theirs" ] || fail "iscsi-ls returned nothing"
assert_eq "$theirs" "$ours" "discover vs iscsi-ls"
assert_eq 2 "$(grep -c . <<<"$ours")" "number of targets"
assert_eq "$T1 127.0.0.1:$P,1" "$(grep -F "$T1 " <<<"$ours")" "line of $T1"

# default port is 3260; HOST:PORT must also work without the port given
# explicitly as a URL -> covered by using host:port above.

# --- JSON
lun_ok discover --json "127.0.0.1:$P"
json=$(/usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert isinstance(d, list), "top level is not a list"
for t in d:
    for p in t["portals"]:
        print("%s %s:%d,%d" % (t["target"], p["address"], p["port"], p["tpgt"]))
' <<<"$LUN_OUT" | sort) || fail "discover --json is not the expected JSON: $LUN_OUT"
assert_eq "$theirs" "$json" "discover --json vs iscsi-ls"

# --- trace: connection FSM sequence, in order
lun_ok --trace discover "127.0.0.1:$P"
assert_eq "$ours" "$(sort <<<"$LUN_OUT")" "stdout with --trace"
seq=$(grep -oE '(free|in_login|logged_in|in_logout|failed|polling) T[0-9]+ -> [a-z_]+' <<<"$LUN_ERR")
want=$'free T1 -> in_login\nin_login T5 -> logged_in\nlogged_in T9 -> in_logout\nin_logout T17 -> free'
assert_eq "$want" "$seq" "connection transitions in --trace"
# every trace line names the portal
while IFS= read -r l; do
    case $l in *"@127.0.0.1:$P "*) ;; *) fail "trace line without portal: $l" ;; esac
done < <(grep -E ' T[0-9]+ -> ' <<<"$LUN_ERR")

# --- option after the subcommand gives the same
lun_ok discover "127.0.0.1:$P" --json
assert_eq "$theirs" "$(/usr/bin/python3 -c '
import json,sys
for t in json.load(sys.stdin):
    for p in t["portals"]: print("%s %s:%d,%d" % (t["target"], p["address"], p["port"], p["tpgt"]))
' <<<"$LUN_OUT" | sort)" "discover HOST --json"

# --- nothing listening -> exit 2
Q=$(free_port)
lun discover "127.0.0.1:$Q"
assert_rc 2 "$LUN_RC" "discover on a closed port"
assert_match "$LUN_ERR" "127\.0\.0\.1:$Q" "error names the portal"

# --- a portal that accepts but never answers: the login times out, no hang
S=$(free_port)
socat TCP-LISTEN:"$S",bind=127.0.0.1,reuseaddr SYSTEM:"sleep 30" &
_PIDS+=($!)
wait_listen "$S" 5
start=$(date +%s)
lun --login-timeout 2 --trace discover "127.0.0.1:$S"
took=$(($(date +%s) - start))
assert_rc 2 "$LUN_RC" "discover on a silent portal"
assert_match "$LUN_ERR" "timed out after 2 s" "login timeout message"
assert_match "$LUN_ERR" "in_login T7 -> free" "timeout is a T7 in the trace"
[ "$took" -le 5 ] || fail "login timeout took ${took}s, asked for 2"

pass
