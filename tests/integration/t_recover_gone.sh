#!/usr/bin/env bash
# t_recover_gone: the target goes away for good in the middle of I/O (the
# proxy cuts every connection and then refuses all new ones).  With
# --replacement-timeout 5 the command must fail with exit 2 and a message
# naming the replacement timeout 5-7 s after the cut, never hang; with
# --replacement-timeout 0 it must fail at once.  Several cut points, write
# and read.
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:gone
SIZE=$((64 << 20))
tgtd_quick a "$T" 64
proxy_start "$TGTD_PORT"
proxy_do rate 16000000
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
LUN_TIMEOUT=30
rand_file "$TD/in" "$SIZE"

# gone OP MIB RT LO HI: start OP (write|read) of 64 MiB, cut at MIB MiB and
# refuse from then on; expect exit 2 "replacement timeout" LO..HI s after.
gone() {
    local op=$1 mib=$2 rt=$3 lo=$4 hi=$5 b0 t0 t k=bytes_up
    [ "$op" = read ] && k=bytes_down
    b0=$(proxy_stat $k)
    if [ "$op" = write ]; then
        lun_bg --trace --stats --replacement-timeout "$rt" --login-retry-interval 1 \
            write "$U" --offset 0 -i "$TD/in"
    else
        lun_bg --trace --stats --replacement-timeout "$rt" --login-retry-interval 1 \
            read "$U" --offset 0 --length "$SIZE" -o "$TD/out"
    fi
    wait_until 20 eval '[ "$(proxy_stat '$k')" -ge $((b0 + mib * 1048576)) ] || ! lun_bg_running' ||
        fail "$op, rt $rt: did not get to $mib MiB"
    lun_bg_running || { lun_wait; fail "$op, rt $rt: lunaris ended before the cut (rc $LUN_RC): $LUN_ERR"; }
    t0=$(now)
    proxy_do refuse
    assert_match "$(proxy_cmd cut)" "^ok cut=[1-9]" "$op, rt $rt: a connection was open at the cut"
    lun_wait
    t=$(elapsed "$t0")
    assert_rc 2 "$LUN_RC" "$op at $mib MiB, target gone, --replacement-timeout $rt"
    assert_match "$(msgs "$LUN_ERR")" "replacement timeout" "$op, rt $rt: the error message (not only the trace) names the replacement timeout"
    assert_match "$LUN_ERR" " logged_in T[0-9]+ -> failed" "$op, rt $rt: trace shows the failure"
    in_range "$t" "$lo" "$hi" || fail "$op at $mib MiB, rt $rt: failed ${t}s after the cut (want $lo..$hi s)"
    log "$op at $mib MiB, --replacement-timeout $rt: exit 2 ${t}s after the cut; refused logins $(proxy_stat refused); $(msgs "$LUN_ERR" | head -1)"
    res+=("$op@${mib}MiB/rt$rt:${t}s")
    proxy_do accept
}

res=()
gone write 8 5 4.8 7.2
gone write 40 5 4.8 7.2
gone read 24 5 4.8 7.2
gone write 20 0 0 2
gone read 30 0 0 2

# the image must still be consistent for a new session after all that
proxy_do rate 0
lun_ok read "$U" --offset 0 --length 4096 -o "$TD/o"
echo "[$TEST_NAME] failure times after the cut: ${res[*]}"
pass
