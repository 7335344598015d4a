#!/usr/bin/env bash
# t_isns: lunarisd discovers targets through an iSNS server (open-isns isnsd).
#   - tgtd registers its target in isnsd itself (tgtd's iSNS support)
#   - modify discovery --iSNS enable + add isns-server: lunarisd registers its
#     initiator (isnsadm lists it) and `list isns-server -v` shows the target
#     with its portal; --json says the same as the plain output
#   - a second target created in tgtd later appears through an SCN, without
#     polling: scn_received goes up, exactly one more query runs and the trace
#     shows it was caused by the SCN; on the wire isnsd delivered the SCN to
#     lunarisd's SCN port (bound to 127.0.0.1, not 0.0.0.0) and got an SCNRsp
#   - a target registered, then deregistered with isnsadm comes and goes
#   - isnsd stops: lunarisd reports it and retries with a backoff; isnsd
#     comes back: lunarisd registers again and queries
#   (tgtd is killed before isnsd stops: its iSNS client hangs otherwise)
#   - remove isns-server deregisters (isnsadm no longer lists the initiator)
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need isnsd
command -v isnsadm >/dev/null || fail "isnsadm (open-isns-utils) is missing"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:isns1
T2=iqn.2024-01.test.lunaris:isns2
T3=iqn.2024-01.test.lunaris:adm3

# ---------------------------------------------------------------- isnsd

ISP=$(free_port) || fail "no free port"
I=$TD/isns
mkdir -p "$I/db"
cat >"$I/isnsd.conf" <<EOF
SourceName = iqn.2024-01.test.isns:server
ServerAddress = 127.0.0.1:$ISP
BindAddress = 127.0.0.1:$ISP
Database = $I/db
PIDFile = $I/isnsd.pid
ControlSocket = $I/isnsctl
Security = 0
SLPRegister = 0
RegistrationPeriod = 10m
DefaultDiscoveryDomain = 1
EOF
cat >"$I/isnsadm.conf" <<EOF
SourceName = iqn.2024-01.test.isns:client
ServerAddress = 127.0.0.1:$ISP
ControlSocket = $I/isnsctl
Security = 0
EOF
IPID=
isnsd_start() {
    isnsd --config "$I/isnsd.conf" --foreground >>"$I/isnsd.log" 2>&1 &
    IPID=$!
    _PIDS+=("$IPID")
    wait_listen "$ISP" 5 "$IPID" || { cat "$I/isnsd.log" >&2; fail "isnsd did not come up"; }
}
isnsadm_() { timeout 20 isnsadm --config "$I/isnsadm.conf" "$@"; }
isns_nodes() { isnsadm_ --list nodes 2>/dev/null | sed -n 's/.*iSCSI name = "\(.*\)"/\1/p'; }
isnsd_start

# ---------------------------------------------------------------- tgtd registers itself

tgtd_start a
TP=$TGTD_PORT
# tgtd 1.0.85's iSNS client spins and stops answering tgtadm once it tries to
# deregister or loses isnsd (seen with iSNS=Off, a target delete, an isnsd
# stop): the EXIT trap must not do the tgtadm shutdown dance, it stops tgtd
# by PID (TERM, then KILL).
_TGTD_DIRS=()
tadm a --mode sys --op update --name iSNSServerIP --value 127.0.0.1 &&
tadm a --mode sys --op update --name iSNSServerPort --value "$ISP" &&
tadm a --mode sys --op update --name iSNSAccessControl --value Off &&
tadm a --mode sys --op update --name iSNS --value On || fail "tgtadm: iSNS settings"
tgtd_target a 1 "$T1"
wait_until 10 eval 'isns_nodes | grep -qx "$T1"' || fail "tgtd did not register $T1: $(isns_nodes)"

# ---------------------------------------------------------------- lunarisd

DPID=
listed() { "$LUNARIS" list isns-server -v 2>/dev/null | grep -c "Target name: $1\$"; }
field() {   # field KEY -> that member of the first server of list isns-server -v --json
    "$LUNARIS" list isns-server -v --json 2>/dev/null |
        "$PY" -c 'import json,sys; v=json.load(sys.stdin)[0][sys.argv[1]]; print(json.dumps(v))' "$1"
}
# the query runs in the trace (their own lines, not the login causes that quote them)
isns_queries() { lun_ok trace; sed -n "s/^[0-9:]* \(discovery isns 127\.0\.0\.1:$ISP <- .*\)/\1/p" <<<"$LUN_OUT"; }

daemon_start
lun_ok list initiator-node --json
ME=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["node-name"])' <<<"$LUN_OUT")
lun_ok modify discovery --iSNS enable
lun_ok add isns-server "127.0.0.1:$ISP"
wait_until 10 eval '[ "$(listed "$T1")" -eq 1 ]' ||
    fail "$T1 not discovered: $("$LUNARIS" list isns-server -v 2>&1; "$LUNARIS" trace 2>&1 | tail -20)"
isns_nodes | grep -qx "$ME" || fail "isnsd does not list our initiator $ME: $(isns_nodes)"
lun_ok list isns-server -v
assert_contains "$LUN_OUT" "iSNS Server IP: 127.0.0.1:$ISP"
assert_contains "$LUN_OUT" "Target address: 127.0.0.1:$TP, 1"
plain=$LUN_OUT
lun_ok list isns-server -v --json
JSON=$LUN_OUT PLAIN=$plain "$PY" - "$ISP" "$T1" "$TP" <<'EOF' || fail "list isns-server -v --json: $LUN_OUT"
import json, os, sys
v = json.loads(os.environ["JSON"])
assert len(v) == 1, v
s = v[0]
assert s["address"] == "127.0.0.1" and s["port"] == int(sys.argv[1]), s
assert s["registered"] is True and s["scn_registered"] is True, s
assert s["queries"] == 1 and s["last_error"] is None, s
assert s["targets"] == [{"target": sys.argv[2], "address": "127.0.0.1",
                         "port": int(sys.argv[3]), "tpgt": 1}], s
# the plain output says the same
plain = os.environ["PLAIN"].splitlines()
want = ["iSNS Server IP: 127.0.0.1:%d" % s["port"]]
if s["last_error"]:
    want.append("\tLast error: " + s["last_error"])
for t in s["targets"]:
    want += ["\tTarget name: " + t["target"],
             "\t\tTarget address: %s:%d, %d" % (t["address"], t["port"], t["tpgt"])]
assert plain == want, (plain, want)
EOF
assert_eq "discovery isns 127.0.0.1:$ISP <- add isns-server by pid" \
    "$(isns_queries | head -1 | sed 's/ by pid .*/ by pid/')" "cause of the first query"
lun_ok trace
assert_match "$LUN_OUT" "DevAttrReg $ME .*registered for 600 s" "registration in the trace"

# SCNs come from isnsd to the port we registered, on 127.0.0.1 only
SCNP=$(field scn_port)
[ "$SCNP" -gt 0 ] 2>/dev/null || fail "no SCN port: $SCNP"
ss -Hltn "sport = :$SCNP" | grep -q "127.0.0.1:$SCNP" ||
    fail "the SCN listener is not on 127.0.0.1: $(ss -Hltn "sport = :$SCNP")"

# ---------------------------------------------------------------- a new target: one SCN, one query
scn0=$(field scn_received)
q0=$(field queries)
CAP=
if command -v dumpcap >/dev/null && command -v tshark >/dev/null; then
    cap_start "$TD/scn.pcap" "$ISP" "$SCNP"
    CAP=1
fi
t0=$(now)
tgtd_target a 2 "$T2"
wait_until 25 eval '[ "$(listed "$T2")" -eq 1 ]' ||
    fail "$T2 did not appear: $("$LUNARIS" list isns-server -v --json 2>&1; "$LUNARIS" trace 2>&1 | tail -20)"
log "$T2 listed $(elapsed "$t0") s after tgtd created it"
[ -n "$CAP" ] && cap_stop
assert_eq false "$(field query_pending)" "a query still owed after the SCN's query"
scn1=$(field scn_received)
q1=$(field queries)
[ "$scn1" -gt "$scn0" ] || fail "scn_received did not go up ($scn0 -> $scn1)"
assert_eq $((q0 + 1)) "$q1" "queries for the new target (one, caused by the SCN)"
assert_eq "discovery isns 127.0.0.1:$ISP <- scn object-added,object-updated $T2" \
    "$(isns_queries | tail -1)" "the query's cause"
assert_eq 2 "$(isns_queries | wc -l)" "queries in the trace (no polling)"
lun_ok trace
assert_match "$LUN_OUT" "isns 127\.0\.0\.1:$ISP: scn object-added,object-updated $T2" "the SCN in the trace"
if [ -n "$CAP" ]; then
    tsh2() { timeout 60 tshark -r "$CAP_FILE" -d "tcp.port==$ISP,isns" -d "tcp.port==$SCNP,isns" "$@" 2>/dev/null; }
    scn_to=$(tsh2 -Y "isns.functionid == 8 && tcp.dstport == $SCNP" -T fields -e frame.number | wc -l)
    rsp_from=$(tsh2 -Y "isns.functionid == 0x8008 && tcp.srcport == $SCNP" -T fields -e frame.number | wc -l)
    [ "$scn_to" -ge 1 ] || fail "no SCN to port $SCNP on the wire: $(tsh2 -Y isns)"
    assert_eq "$scn_to" "$rsp_from" "an SCNRsp for every SCN"
    bad=$(tsh2 -Y '_ws.malformed || _ws.expert.severity == error')
    assert_eq "" "$bad" "malformed iSNS PDUs"
    log "wire: $scn_to SCN(s) to 127.0.0.1:$SCNP, each answered; $(tsh2 -Y "isns.functionid == 3" | wc -l) DevGetNext"
fi

# ---------------------------------------------------------------- isnsadm adds a target and takes it away
isnsadm_ --register entity=EID-adm target="$T3" portal=127.0.0.1:13261 >/dev/null ||
    fail "isnsadm --register failed"
wait_until 25 eval '[ "$(listed "$T3")" -eq 1 ]' || fail "$T3 did not appear"
lun_ok list isns-server -v
# isnsadm writes the address as ::127.0.0.1 (IPv4-compatible); it reads as IPv4
assert_contains "$LUN_OUT" "Target address: 127.0.0.1:13261, 1"
isnsadm_ --deregister iscsi-name="$T3" >/dev/null || fail "isnsadm --deregister failed"
wait_until 25 eval '[ "$(listed "$T3")" -eq 0 ]' || fail "$T3 did not go away"
assert_eq "discovery isns 127.0.0.1:$ISP <- scn object-removed $T3" "$(isns_queries | tail -1)" \
    "the removal's cause"
[ "$(listed "$T1")" -eq 1 ] && [ "$(listed "$T2")" -eq 1 ] || fail "the tgtd targets went too"

# ---------------------------------------------------------------- the server goes away and comes back
# tgtd leaves first, the hard way (its iSNS client would spin, see above);
# its targets stay in isnsd's database until their registration period ends.
tgtd_kill9 a
stop_pid "$IPID" 5
wait_until 10 eval '"$LUNARIS" trace | grep -q "discovery isns 127.0.0.1:$ISP failed: cannot connect"' ||
    fail "no failure after isnsd stopped: $("$LUNARIS" trace | tail -5)"
assert_eq false "$(field registered)" "registered while isnsd is down"
lun_ok list isns-server -v
assert_contains "$LUN_OUT" "Last error: cannot connect to 127.0.0.1:$ISP: Connection refused"
sleep 2
isnsd_start
wait_until 20 eval '[ "$(field registered)" = true ]' || fail "not registered again: $(field last_error)"
lun_ok trace
assert_match "$LUN_OUT" "failed: cannot connect to 127\.0\.0\.1:$ISP: Connection refused; retry in 2 s" "backoff"
assert_match "$LUN_OUT" "isns 127\.0\.0\.1:$ISP: the server answers again" "recovery"
wait_until 10 eval '[ "$(listed "$T2")" -eq 1 ]' || fail "$T2 not listed after the recovery"
[ "$(field failures)" -ge 2 ] || fail "failures: $(field failures)"

# ---------------------------------------------------------------- remove: deregistered
isns_nodes | grep -qx "$ME" || fail "our node is not registered before remove"
lun_ok remove isns-server "127.0.0.1:$ISP"
wait_until 5 eval '! isns_nodes | grep -qx "$ME"' || fail "still registered after remove: $(isns_nodes)"
lun_ok trace
assert_match "$LUN_OUT" "isns 127\.0\.0\.1:$ISP: DevDereg lunaris:$ME: deregistered" "deregistration"
lun_ok list isns-server -v --json
assert_eq "[]" "$(tr -d ' \n' <<<"$LUN_OUT")" "servers after remove"
ss -Hltn "sport = :$SCNP" | grep -q . && fail "the SCN listener is still open"

stop_pid "$DPID" 5
check_sanitizer "$TD/lunarisd.log" "lunarisd"
pass
