#!/usr/bin/env bash
# t_redirect: login redirection.  tgtd A holds target T without LUNs and
# answers its logins with "target moved" (RedirectAddress/Port/Reason);
# tgtd B holds the same T with a file-backed LUN 1.  lunaris write/read via
# A's URL must follow the redirect, the data must land in B's backing file,
# and --trace must show the redirect.  Temporary (0x0101) and Permanent
# (0x0102), checked on the wire too.
#
# tgtd does not redirect an initiator whose own address equals
# RedirectAddress (loop guard, address_match() in iscsi/target.c), and
# lunaris connects from 127.0.0.1, so B gets a second portal on 127.0.0.2
# and A redirects there.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" dumpcap tshark

T=iqn.2024-01.test.lunaris:redir
tgtd_quick b "$T" 32
IMG=$TD/b/lun1.img
PB=$(free_port) || fail "no free port"
tadm b --lld iscsi --mode portal --op new --param "portal=127.0.0.2:$PB" ||
    fail "tgtadm: portal 127.0.0.2:$PB on B"
wait_listen "$PB" 5 || fail "B does not listen on 127.0.0.2:$PB"
tgtd_start a
PA=$TGTD_PORT
tgtd_target a 1 "$T"
UA=iscsi://127.0.0.1:$PA/$T/1

# without redirect A has no LUN 1: proves that a success below went to B
lun read "$UA" --offset 0 --length 512
assert_rc 3 "$LUN_RC" "read via A before the redirect is set (A has no LUN 1)"

cap_start "$TD/cap.pcap" "$PA" "$PB"
i=0
for reason in Temporary Permanent; do
    i=$((i + 1))
    for kv in RedirectAddress=127.0.0.2 "RedirectPort=$PB" "RedirectReason=$reason"; do
        tadm a --lld iscsi --mode target --op update --tid 1 \
            --name "${kv%%=*}" --value "${kv#*=}" || fail "tgtadm: $kv on A"
    done
    shown=$(tadm a --lld iscsi --mode target --op show --tid 1)
    assert_contains "$shown" "RedirectReason=$reason" "A shows RedirectReason=$reason"

    off=$((i << 20))
    len=$(((1 << 20) + 4096))
    rand_file "$TD/in" "$len"
    lun_ok --trace write "$UA" --offset "$off" -i "$TD/in"
    tr=$LUN_ERR
    extract "$IMG" "$off" "$len" "$TD/back"
    assert_file_eq "$TD/in" "$TD/back" "$reason redirect: write via A vs B's backing file"
    assert_contains "$tr" "@127.0.0.1:$PA in_login T7 -> free (redirected to 127.0.0.2:$PB)" \
        "$reason redirect: trace of A's login"
    assert_contains "$tr" "@127.0.0.2:$PB free T1 -> in_login" "$reason redirect: trace of the login at B"
    assert_contains "$tr" "@127.0.0.2:$PB in_login T5 -> logged_in" "$reason redirect: logged in at B"
    awk '/in_login T7 -> free/ { s = 1 } s && /free T1 -> in_login/ { f = 1 } END { exit !f }' \
        <<<"$tr" || fail "$reason redirect: no new login after T7: $(head -c 1500 <<<"$tr")"
    rm -f "$TD/out"
    lun_ok --trace read "$UA" --offset "$off" --length "$len" -o "$TD/out"
    assert_file_eq "$TD/in" "$TD/out" "$reason redirect: read back via A"
    assert_contains "$LUN_ERR" "redirected to 127.0.0.2:$PB" "$reason redirect: read trace"
done
cap_stop

# wire: A answered with status 0x0101 then 0x0102 and TargetAddress; B
# carried the data (Data-Out and Data-In on PB, none on PA)
st=$(tsh "$PA" -Y "tcp.srcport==$PA && iscsi.opcode==0x23 && iscsi.login.status != 0" \
    -T fields -e iscsi.login.status | sort | uniq -c | tr -s ' \n' ' ')
log "A's non-success login statuses: $st"
assert_match "$st" "2 0x0*101" "two Temporary redirects (0x0101) from A"
assert_match "$st" "2 0x0*102" "two Permanent redirects (0x0102) from A"
ta=$(tsh "$PA" -Y "tcp.srcport==$PA && iscsi.opcode==0x23" -T fields -e iscsi.keyvalue)
assert_contains "$ta" "TargetAddress=127.0.0.2:$PB" "A's redirect names B"
na=$(tsh "$PA" -Y "tcp.port==$PA && (iscsi.opcode==0x05 || iscsi.opcode==0x25 || iscsi.opcode==0x01)" \
    -T fields -e frame.number | grep -c .)
assert_eq 0 "$na" "SCSI traffic on A's port"
nb=$(tsh "$PB" -Y "tcp.port==$PB && iscsi.opcode==0x25" -T fields -e frame.number | grep -c .)
[ "$nb" -gt 0 ] || fail "no Data-In on B's redirected portal"

pass
