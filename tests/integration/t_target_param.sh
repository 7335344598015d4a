#!/usr/bin/env bash
# t_target_param: `lunaris list|modify|remove target-param` and the two
# daemon-wide tunables of initiator-node, end to end through lunarisd.
#   - modify sets a target's login settings in one change; list shows names,
#     -v every setting as default/configured, and -v is exactly what the
#     --json data says; names compare case-insensitively
#   - bad names and values are refused with a sentence and exit 1 (by the CLI,
#     and by the daemon for requests that bypass the CLI); remove of what is
#     not configured is exit 4; only root or the control group may change
#   - the target's CHAP secret (from a file or the no-echo prompt) is in no
#     output, log or trace, may not be the initiator's own, and the store
#     stays 0600
#   - storm-protection (on|off) and discovery-min-interval on initiator-node
#   - a restart keeps everything; remove takes it all away
set -u
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
[ -x "$PY" ] || skip "missing tool: $PY"

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

# raw REQUEST_JSON -> one request on the control socket, bypassing the CLI's
# checks; prints the reply
raw() {
    "$PY" - "$LUNARIS_RUN_DIR/control" "$1" <<'PYEOF'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
body = sys.argv[2].encode()
s.sendall(struct.pack(">I", len(body)) + body)
def take(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("connection closed")
        b += c
    return b
n = struct.unpack(">I", take(4))[0]
print(take(n).decode())
PYEOF
}

# render_v JSON -> the `list target-param -v` text that JSON should give
render_v() {
    "$PY" - "$1" <<'PYEOF'
import json, sys
labels = [("login-timeout", "Session Login Response Time"),
          ("conn-login-max", "Maximum Connection Retry Time"),
          ("login-retry-interval", "Login Retry Time Interval"),
          ("polling-interval", "Polling Interval"), ("noop-interval", "NOP-Out Interval"),
          ("noop-timeout", "NOP-Out Timeout"), ("replacement-timeout", "Replacement Timeout"),
          ("command-timeout", "Command Timeout")]
def eff(o):
    return o["default"] if o["configured"] is None else o["configured"]
def dig(v):
    return "-" if v is None else {"crc32c": "CRC32C", "none": "NONE"}[v]
def val(v):
    return "-" if v is None else str(v)
out = []
for t in json.loads(sys.argv[1]):
    out.append("Target: %s" % t["target"])
    out.append("\tAlias: %s" % (t["alias"] or "-"))
    out.append("\tBi-directional Authentication: %s"
               % ("enabled" if eff(t["bidir-auth"]) else "disabled"))
    out.append("\tAuthentication Type: %s" % ("CHAP" if eff(t["authentication"]) == "chap" else "NONE"))
    out.append("\tCHAP Name: %s" % eff(t["target-chap-name"]))
    out.append("\tCHAP Secret: %s" % ("set" if t["target-chap-secret-set"] else "not set"))
    out.append("\tLogin Parameters (Default/Configured):")
    for k, l in (("header-digest", "Header Digest"), ("data-digest", "Data Digest")):
        out.append("\t\t%s: %s/%s" % (l, dig(t[k]["default"]), dig(t[k]["configured"])))
    out.append("\tTunable Parameters (Default/Configured):")
    assert sorted(t["tunables"]) == sorted(k for k, _ in labels), t["tunables"]
    for k, l in labels:
        out.append("\t\t%s: %s/%s" % (l, val(t["tunables"][k]["default"]),
                                      val(t["tunables"][k]["configured"])))
    out.append("\tConfigured Sessions: %d" % eff(t["configured-sessions"]))
print("\n".join(out))
PYEOF
}

# pty_secret SECRET ARGS... -> lunaris ARGS on a terminal of its own,
# answering both secret prompts; sets LUN_OUT (what the terminal showed), LUN_RC
pty_secret() {
    local secret=$1; shift
    LUN_OUT=$("$PY" - "$secret" "$LUNARIS" "$@" 2>"$TD/pty.err" <<'PYEOF'
import os, pty, sys, time
secret = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
seen, answered, deadline = b"", 0, time.time() + 20
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if seen.count(b"secret: ") > answered:   # TCSAFLUSH: answer only once asked
        answered += 1
        os.write(fd, secret + b"\n")
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PYEOF
)
    LUN_RC=$?
    printf '%s\n' "$LUN_OUT" >"$TD/pty.out"   # lunaris's stderr went to the terminal
    check_sanitizer "$TD/pty.out" "lunaris $* (on a pty)"
    check_sanitizer "$TD/pty.err" "pty helper"
}

daemon_start
T1=iqn.2024-01.test.lunaris:tp1
T2=eui.0123456789ABCDEF
T2L=eui.0123456789abcdef
TSECRET=target-secret-$RANDOM-0123456789
ISECRET=initiator-secret-$RANDOM-987654
printf '%s\n' "$TSECRET" >"$TD/tsecret"; chmod 600 "$TD/tsecret"
printf '%s\n' "$ISECRET" >"$TD/isecret"; chmod 600 "$TD/isecret"
PSECRET=prompted-secret-$RANDOM-5555

# --- nothing configured yet
lun_ok list target-param
assert_eq "" "$LUN_OUT" "empty list"
lun_ok list target-param --json
assert_eq "[]" "$LUN_OUT" "empty --json list"

# --- modify: options as initiator-node spells them, typed in any case
lun_ok modify initiator-node --CHAP-secret-file "$TD/isecret" --datadigest CRC32 \
    --tunable-param login-timeout=40
lun_ok modify target-param --headerdigest none --datadigest crc32 --authentication CHAP \
    --bi-directional-authentication enable --CHAP-name tgt-one \
    --CHAP-secret-file "$TD/tsecret" --configured-sessions 2 \
    --tunable-param noop-interval=7,replacement-timeout=30 -T login-timeout=9 \
    IQN.2024-01.Test.Lunaris:TP1
assert_eq "" "$LUN_ERR" "modify target-param: no warning"
lun_ok modify target-param -a none -h crc32c -c 3 "$T2"
pty_secret "$PSECRET" modify target-param -C "$T2"
assert_rc 0 "$LUN_RC" "--CHAP-secret on a terminal: $LUN_OUT"
assert_contains "$LUN_OUT" "target's CHAP secret: " "the prompt names the target's secret"
assert_not_contains "$LUN_OUT" "$PSECRET" "the prompted secret is not echoed"

lun_ok list target-param
assert_eq "Target: $T2L
Target: $T1" "$LUN_OUT" "list target-param"
lun_ok list target-param -v
plain_v=$LUN_OUT
lun_ok list target-param --json
json_all=$LUN_OUT
assert_eq "$(render_v "$json_all")" "$plain_v" "-v is the --json data"
assert_contains "$plain_v" "Target: $T1
	Alias: -
	Bi-directional Authentication: enabled
	Authentication Type: CHAP
	CHAP Name: tgt-one
	CHAP Secret: set
	Login Parameters (Default/Configured):
		Header Digest: NONE/NONE
		Data Digest: CRC32C/CRC32C
	Tunable Parameters (Default/Configured):
		Session Login Response Time: 40/9
		Maximum Connection Retry Time: 180/-" "-v of $T1"
assert_contains "$plain_v" "		NOP-Out Interval: 5/7"
assert_contains "$plain_v" "		Replacement Timeout: 120/30"
assert_contains "$plain_v" "	Configured Sessions: 2"
assert_contains "$plain_v" "Target: $T2L
	Alias: -
	Bi-directional Authentication: disabled
	Authentication Type: NONE
	CHAP Name: $T2L
	CHAP Secret: set
	Login Parameters (Default/Configured):
		Header Digest: NONE/CRC32C
		Data Digest: CRC32C/-" "-v of $T2"
"$PY" - "$json_all" <<'PYEOF' || fail "list target-param --json: $json_all"
import json, sys
t = {e["target"]: e for e in json.loads(sys.argv[1])}
a = t["iqn.2024-01.test.lunaris:tp1"]
assert a["authentication"] == {"default": "none", "configured": "chap"}, a
assert a["bidir-auth"] == {"default": False, "configured": True}, a
assert a["target-chap-name"]["configured"] == "tgt-one", a
assert a["target-chap-secret-set"] is True, a
assert a["data-digest"] == {"default": "crc32c", "configured": "crc32c"}, a
assert a["tunables"]["login-timeout"] == {"default": 40, "configured": 9}, a
assert a["configured-sessions"] == {"default": 1, "configured": 2}, a
assert "storm-protection" not in a["tunables"], a
b = t["eui.0123456789abcdef"]
assert b["configured-sessions"]["configured"] == 3, b
PYEOF
# operands filter, in any case
lun_ok list target-param -v "IQN.2024-01.TEST.LUNARIS:tp1"
assert_contains "$LUN_OUT" "Target: $T1"
assert_not_contains "$LUN_OUT" "Target: $T2L"
lun_ok list target-param --json "$T2"
[ "$("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$LUN_OUT")" = 1 ] ||
    fail "--json with an operand: $LUN_OUT"

# --- the daemon-wide tunables of initiator-node
lun_ok modify initiator-node --tunable-param storm-protection=off,discovery-min-interval=30
lun_ok list initiator-node
assert_contains "$LUN_OUT" "		Discovery Minimum Interval: 10/30"
assert_contains "$LUN_OUT" "		Storm Protection: on/off"
lun_ok list initiator-node --json
"$PY" - "$LUN_OUT" <<'PYEOF' || fail "initiator-node tunables: $LUN_OUT"
import json, sys
n = json.loads(sys.argv[1])["tunables"]
assert n["storm-protection"] == {"default": "on", "configured": "off"}, n
assert n["discovery-min-interval"] == {"default": 10, "configured": 30}, n
PYEOF
lun_ok modify initiator-node -T storm-protection=ON
lun_ok list initiator-node
assert_contains "$LUN_OUT" "		Storm Protection: on/on"

# --- bad input: a sentence and an exit code, nothing changed
lun_ok list target-param --json
before=$LUN_OUT
bad() {   # bad RC ERE ARGS...
    local rc=$1 re=$2; shift 2
    lun "$@"
    assert_rc "$rc" "$LUN_RC" "lunaris $*"
    assert_match "$LUN_ERR" "$re" "lunaris $*: message"
}
bad 1 "must start with iqn., eui. or naa." modify target-param -h none not-a-name
bad 1 "month 13 is not 01..12" modify target-param -h none iqn.2024-13.test:x
bad 1 "is [0-9]+ bytes long, more than 223" modify target-param -h none "iqn.2024-01.test:$(printf 'a%.0s' {1..230})"
bad 1 "non-ASCII" modify target-param -h none "iqn.2024-01.test:caf$(printf '\xc3\xa9')"
bad 1 "expected none or crc32c, got 'md5'" modify target-param --headerdigest md5 "$T1"
bad 1 "expected none or crc32c" modify target-param -d sha1 "$T1"
bad 1 "expected chap or none, got 'kerberos'" modify target-param -a kerberos "$T1"
bad 1 "expected enable or disable, got 'yes'" modify target-param -B yes "$T1"
bad 1 "not a whole number from 1 to 4" modify target-param -c 5 "$T1"
bad 1 "not a whole number from 1 to 4" modify target-param --configured-sessions 0 "$T1"
bad 1 "1 to 255 bytes of text" modify target-param -H "" "$T1"
bad 1 "unknown key 'bogus'" modify target-param -T bogus=1 "$T1"
bad 1 "not a whole number from 0 to 3600" modify target-param -T noop-interval=3601 "$T1"
bad 1 "storm-protection applies to the initiator node only" modify target-param -T storm-protection=off "$T1"
bad 1 "discovery-min-interval applies to the initiator node only" modify target-param -T discovery-min-interval=5 "$T1"
bad 1 "does not take option '-N'" modify target-param -N iqn.2024-01.test:me "$T1"
bad 1 "needs exactly one TARGET" modify target-param -h none
bad 1 "needs exactly one TARGET" modify target-param -h none "$T1" "$T2"
bad 1 "needs at least one option" modify target-param "$T1"
bad 1 "needs at least one TARGET" remove target-param
bad 1 "'add target-param' is not a command" add target-param "$T1"
bad 1 "either --CHAP-secret or --CHAP-secret-file" modify target-param -C --CHAP-secret-file "$TD/tsecret" "$T1"
bad 1 "expected on or off, got 'maybe'" modify initiator-node -T storm-protection=maybe
bad 1 "not a whole number from 0 to 3600" modify initiator-node -T discovery-min-interval=3601
bad 4 "target-param iqn.2024-01.test.lunaris:nope is not configured" remove target-param iqn.2024-01.test.lunaris:nope
bad 4 "target-param iqn.2024-01.test.lunaris:nope is not configured" list target-param iqn.2024-01.test.lunaris:nope
# RFC 7143 12.1.3: one secret may not authenticate both sides
bad 1 "must differ from the initiator's own" modify target-param --CHAP-secret-file "$TD/isecret" "$T2"
bad 1 "must differ from the target CHAP secret of $T1" modify initiator-node --CHAP-secret-file "$TD/tsecret"
assert_not_contains "$LUN_ERR" "$TSECRET" "the refusal does not quote the secret"
# the daemon checks too, for requests that do not come from this CLI
rawbad() {   # rawbad CODE ERE JSON
    local out
    out=$(raw "$3") || fail "raw request failed: $3"
    "$PY" - "$out" "$1" "$2" <<'PYEOF' || fail "raw $3 -> $out"
import json, re, sys
r = json.loads(sys.argv[1])
assert r["ok"] is False and r["code"] == int(sys.argv[2]), r
assert re.search(sys.argv[3], r["error"]), r
PYEOF
}
rawbad 1 "chap-secret is the initiator's own CHAP identity" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"$T1\",\"chap-secret\":\"x123456789012\"}}"
rawbad 1 "unknown target-param setting 'alias'" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"$T1\",\"alias\":\"x\"}}"
rawbad 1 "header-digest must be none or crc32c" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"$T1\",\"header-digest\":\"CRC32\"}}"
rawbad 1 "tunable 'noop-timeout' must be whole seconds from 1 to 3600" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"$T1\",\"tunables\":{\"noop-timeout\":0}}}"
rawbad 1 "tunable 'storm-protection' must be \"on\" or \"off\"" \
    "{\"op\":\"modify\",\"object\":\"initiator-node\",\"args\":{\"tunables\":{\"storm-protection\":false}}}"
rawbad 1 "non-ASCII" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"iqn.2024-01.test:\\u00e9\",\"data-digest\":\"none\"}}"
rawbad 1 "needs \\{\"target\": iSCSI name\\}" \
    "{\"op\":\"remove\",\"object\":\"target-param\",\"args\":{}}"
# a bad setting next to good ones changes nothing
rawbad 1 "configured-sessions must be 1 to 4" \
    "{\"op\":\"modify\",\"object\":\"target-param\",\"args\":{\"target\":\"$T1\",\"data-digest\":\"none\",\"configured-sessions\":7}}"
lun_ok list target-param --json
assert_eq "$before" "$LUN_OUT" "refused changes changed nothing"

# bi-directional authentication that cannot work is done, with a warning
lun_ok modify target-param -B enable iqn.2024-01.test.lunaris:tp3
assert_contains "$LUN_ERR" "warning: bi-directional authentication needs CHAP authentication"
assert_contains "$LUN_ERR" "needs the target's CHAP secret"

if id nobody >/dev/null 2>&1; then
    chmod 0777 "$LUNARIS_RUN_DIR/control"   # nobody reaches the socket; the daemon still says no
    chmod 0755 "$TD"
    out=$(su -s /bin/sh nobody -c "LUNARIS_RUN_DIR=$LUNARIS_RUN_DIR $LUNARIS modify target-param -h none $T1" 2>&1)
    assert_rc 3 "$?" "modify target-param by nobody: $out"
    assert_match "$out" "permission denied" "modify by nobody: message"
    out=$(su -s /bin/sh nobody -c "LUNARIS_RUN_DIR=$LUNARIS_RUN_DIR $LUNARIS remove target-param $T1" 2>&1)
    assert_rc 3 "$?" "remove target-param by nobody: $out"
    out=$(su -s /bin/sh nobody -c "LUNARIS_RUN_DIR=$LUNARIS_RUN_DIR $LUNARIS list target-param -v" 2>&1)
    assert_rc 0 "$?" "list target-param by nobody: $out"
    assert_not_contains "$out" "$TSECRET"
    chmod 0660 "$LUNARIS_RUN_DIR/control"
fi

lun_ok modify target-param --help
assert_contains "$LUN_OUT" "usage: lunaris list target-param"
assert_contains "$LUN_OUT" "--bi-directional-authentication"

# --- restart: everything is still there, the same
lun_ok list target-param -v
plain_v=$LUN_OUT
lun_ok list target-param --json
json_all=$LUN_OUT
daemon_stop
daemon_start
lun_ok list target-param -v
assert_eq "$plain_v" "$LUN_OUT" "list target-param -v after restart"
lun_ok list target-param --json
assert_eq "$json_all" "$LUN_OUT" "list target-param --json after restart"
assert_eq "$(render_v "$LUN_OUT")" "$plain_v" "-v is the --json data after restart"

# --- secrets: in no output, log or trace; the store is private
lun_ok trace --json
trace_out=$LUN_OUT
for f in "$STATE"/lunaris.db*; do
    assert_eq 600 "$(stat -c %a "$f")" "mode of $f"
done
for s in "$TSECRET" "$PSECRET" "$ISECRET"; do
    grep -qF "$s" "$TD/lunarisd.log" && fail "a CHAP secret is in the daemon log"
    grep -qF "$s" <<<"$plain_v$json_all$trace_out$before" && fail "a CHAP secret is in a listing or the trace"
done
grep -q "target-param $T1: target-chap-secret changed" "$TD/lunarisd.log" ||
    fail "the change of the secret is not logged: $(cat "$TD/lunarisd.log")"

# --- remove: all of a target's settings go, in one change
lun_ok remove target-param "$T1" IQN.2024-01.TEST.LUNARIS:TP3
lun_ok list target-param
assert_eq "Target: $T2L" "$LUN_OUT" "after remove"
lun remove target-param "$T1" "$T2"
assert_rc 4 "$LUN_RC" "remove of one missing, one present"
assert_match "$LUN_ERR" "target-param $T1 is not configured"
lun_ok list target-param --json
assert_eq "[]" "$LUN_OUT" "the present one was removed all the same"
daemon_stop
pass
