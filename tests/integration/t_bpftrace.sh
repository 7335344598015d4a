#!/usr/bin/env bash
# t_bpftrace: the scripts in tools/bpftrace/, run briefly against the storm
# scenario (a stale device-cache name opened again and again with
# storm-protection off), each print what the blog's DTrace scripts showed:
#   fsm.bt         the discovery sessions' free T1, in_login T5, logged_in T9,
#                  in_logout T17
#   config_one.bt  config_one of the stale target <- nbd by pid N (nbdinfo),
#                  and the discovery runs it caused
#   devcache.bt    the opens of the stale name, "offline", by nbdinfo
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need bpftrace nbdinfo
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
LUNARISD=$(readlink -f "$LUNARISD")
export LUNARIS_RUN_DIR=$TD/run
BT=$(cd "$(dirname "$0")/../../tools/bpftrace" && pwd)
T1=iqn.2024-01.test.lunaris:bt1
T2=iqn.2024-01.test.lunaris:keep

# bpftrace needs to attach uprobes: skip where the kernel does not let it
BPFTRACE_STRLEN=120 timeout 10 bpftrace -e 'BEGIN { printf("ok\n"); exit(); }' >"$TD/probe.out" 2>&1
grep -q '^ok' "$TD/probe.out" || skip "bpftrace cannot run here: $(tail -1 "$TD/probe.out")"

tgtd_start a
P=$TGTD_PORT
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 8
tgtd_target a 2 "$T2"   # tgtd with no target at all refuses every login
tgtd_lun a 2 1 "$TD/a/lun2.img" 8

# --- a stale name: seen once, its target removed while the daemon is down
daemon_start
lun_ok add discovery-address "127.0.0.1:$P"
wait_until 10 eval '[ "$("$LUNARIS" list lu 2>/dev/null | grep -c "State: online")" -eq 2 ]' ||
    fail "LUs not online: $("$LUNARIS" list lu 2>&1)"
lun_ok list target -S "$T1"
N=$(sed -n 's/.*Device Name: \(c0t[0-9A-F]*d0\).*/\1/p' <<<"$LUN_OUT" | tail -1)
[ -n "$N" ] || fail "no device name: $LUN_OUT"
stop_pid "$DPID"
tadm a --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 || fail "tgtadm lun delete"
tadm a --lld iscsi --mode target --op delete --tid 1 || fail "tgtadm target delete"
daemon_start
lun_ok modify initiator-node -T storm-protection=off,open-timeout=2

# --- the three scripts, attached to this daemon's binary
for s in fsm config_one devcache; do
    len=120
    [ "$s" = fsm ] && len=80   # five strings per event: the BPF stack has 512 bytes
    BPFTRACE_STRLEN=$len timeout 40 bpftrace "$BT/$s.bt" "$LUNARISD" >"$TD/$s.out" 2>&1 &
    _PIDS+=("$!")
done
for s in fsm config_one devcache; do
    wait_until 20 grep -q '^Attaching' "$TD/$s.out" || fail "$s.bt did not attach: $(cat "$TD/$s.out")"
done
sleep 1
for _ in 1 2 3; do
    timeout 10 nbdinfo "nbd+unix:///$N?socket=$LUNARIS_RUN_DIR/nbd.sock" >/dev/null 2>&1 &&
        fail "opening the stale name succeeded"
    sleep 0.3
done
wait_until 10 eval '[ "$(grep -c "in_logout T17 -> free" "$TD/fsm.out")" -ge 3 ]' ||
    fail "fsm.bt: $(cat "$TD/fsm.out")"

seq=$(grep 'discovery@' "$TD/fsm.out" | grep -oE '(free|in_login|logged_in|in_logout) T[0-9]+ -> [a-z_]+' | head -4)
want=$'free T1 -> in_login\nin_login T5 -> logged_in\nlogged_in T9 -> in_logout\nin_logout T17 -> free'
assert_eq "$want" "$seq" "fsm.bt: the blog's sequence"
c1=$(cat "$TD/config_one.out")
assert_match "$c1" "config_one $T1 <- nbd by pid [0-9]+ \(nbdinfo\)" "config_one.bt: who asked"
assert_match "$c1" "discovery sendtargets 127\.0\.0\.1:$P <- config_one $T1 <- nbd by pid [0-9]+ \(nbdinfo\)" \
    "config_one.bt: the discovery it caused"
[ "$(grep -c "config_one $T1 <-" <<<"$c1")" -ge 3 ] || fail "config_one.bt: fewer than 3 asks: $c1"
dc=$(cat "$TD/devcache.out")
assert_match "$dc" "open $N offline by nbd by pid [0-9]+ \(nbdinfo\)" "devcache.bt: the stale name"
log "fsm.bt: $(grep -c ' -> ' "$TD/fsm.out") steps; config_one.bt: $(grep -c 'config_one ' <<<"$c1") asks; devcache.bt: $(grep -c ' open ' <<<"$dc") opens"
pass
