#!/usr/bin/env bash
# t_storm: the blog's login storm cannot happen, and can be shown on demand.
#   A discovery address whose target list lacks a name; 100 config_one
#   requests for that name within 10 s:
#   - storm-protection on (default): at most 2 discovery logins at the
#     target (one run, then the negative cache answers; one more when the
#     entry expires), and the answer names the negative cache
#   - storm-protection off (the 2006 behaviour): one discovery login each
#   Logins are counted at the target (tgtd's log, login_start) and, on the
#   wire, with tshark (TCP streams that carry a Login Request).
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need tshark dumpcap
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run
T1=iqn.2024-01.test.lunaris:here
GONE=iqn.2024-01.test.lunaris:gone

tgtd_start a --debug
P=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 4
logins() { grep -o 'login_start(' "$TD/a/tgtd.log" | wc -l; }

"$LUNARISD" -f --state-dir "$TD/state" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
DPID=$!
_PIDS+=("$DPID")
wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
t_add=$(now)
lun_ok add discovery-address "127.0.0.1:$P"
wait_until 10 eval '"$LUNARIS" list target 2>/dev/null | grep -q "Connections: 1"' ||
    fail "the existing target did not log in"
# Start the storm once the add's discovery is older than the rate-limit
# interval, so that the first request may run discovery at once.
sleep "$(awk -v a="$t_add" -v b="$(now)" 'BEGIN { w = 10.5 - (b - a); print (w > 0 ? w : 0) }')"

storm() {   # storm N SECONDS -> count answers "not found" / from the negative cache
    local n=$1 gap neg=0 nf=0 i
    gap=$(awk -v s="$2" -v n="$n" 'BEGIN { printf "%.3f", s / n }')
    for i in $(seq "$n"); do
        lun config-one -t 5 "$GONE"
        [ "$LUN_RC" = 6 ] || fail "config-one #$i of a missing name: rc $LUN_RC: $LUN_ERR"
        case $LUN_ERR in
        *"negative cache"*) neg=$((neg + 1)) ;;
        *"not found by any enabled discovery method"*) nf=$((nf + 1)) ;;
        *) fail "config-one #$i: unexpected answer: $LUN_ERR" ;;
        esac
        sleep "$gap"
    done
    echo "$neg $nf"
}

# --- storm protection on (the default)
cap_start "$TD/on.pcap" "$P"
before=$(logins)
t0=$(now)
read -r neg nf <<<"$(storm 100 10)"
[ -n "${nf:-}" ] || fail "the config-one storm did not complete"
cap_stop
took=$(elapsed "$t0")
sleep 1
n_tgt=$(($(logins) - before))
n_wire=$(tsh "$P" -Y 'iscsi.opcode==0x03' -T fields -e tcp.stream | sort -u | grep -c .)
log "protection on: 100 config_one in ${took}s -> $n_tgt discovery logins at the target, $n_wire on the wire; $neg answered from the negative cache, $nf after a discovery"
[ "$n_tgt" -le 2 ] || fail "$n_tgt discovery logins for 100 config_one requests with storm protection"
[ "$n_tgt" -ge 1 ] || fail "no discovery at all for an unknown name"
assert_eq "$n_tgt" "$n_wire" "logins counted at the target and on the wire"
[ "$neg" -ge 90 ] || fail "only $neg answers came from the negative cache"
lun_ok trace
assert_contains "$LUN_OUT" "negative cache: $GONE not found by discovery"
assert_match "$LUN_OUT" "discovery sendtargets 127\.0\.0\.1:$P <- config_one $GONE <- config-one by pid [0-9]+ \(lunaris\)"
lun_ok list negative-cache
assert_contains "$LUN_OUT" "Target: $GONE"
lun_ok list portal-stats
assert_contains "$LUN_OUT" "Portal: 127.0.0.1:$P"
assert_match "$LUN_OUT" "Logins: [1-9]"

# --- storm protection off: the 2006 behaviour, one discovery per request
lun_ok modify initiator-node --tunable-param storm-protection=off
cap_start "$TD/off.pcap" "$P"
before=$(logins)
t0=$(now)
read -r neg nf <<<"$(storm 100 10)"
[ -n "${nf:-}" ] || fail "the config-one storm did not complete"
cap_stop
took=$(elapsed "$t0")
sleep 1
n_tgt=$(($(logins) - before))
n_wire=$(tsh "$P" -Y 'iscsi.opcode==0x03' -T fields -e tcp.stream | sort -u | grep -c .)
log "protection off: 100 config_one in ${took}s -> $n_tgt discovery logins at the target, $n_wire on the wire"
assert_eq 100 "$n_tgt" "discovery logins with storm protection off"
assert_eq 100 "$n_wire" "logins on the wire with storm protection off"
assert_eq 0 "$neg" "negative-cache answers with storm protection off"

# --- and back on: the guard holds again at once
lun_ok modify initiator-node --tunable-param storm-protection=on
before=$(logins)
for _ in $(seq 20); do "$LUNARIS" config-one -t 5 "$GONE" >/dev/null 2>&1; done
n_tgt=$(($(logins) - before))
[ "$n_tgt" -le 1 ] || fail "$n_tgt discovery logins for 20 requests after turning protection back on"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
