#!/usr/bin/env bash
# t_recover_cut: every connection cut (RST) at the proxy and new ones refused
# for 2 s in the middle of a 64 MiB `lunaris write`, at three cut points.
# The write must complete (exit 0) with the backing file equal to the input,
# and the trace must show logged_in -> failed -> in_login -> logged_in.
# Prints the recovery times (cut -> re-login, cut -> write done).
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:cut
SIZE=$((64 << 20))
RATE=16000000          # proxy rate limit: the write lasts ~4 s
OUTAGE=2
tgtd_quick a "$T" 64
IMG=$TD/a/lun1.img
proxy_start "$TGTD_PORT"
proxy_do rate "$RATE"
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
RELOGIN='in_login T5 -> logged_in'

times=()
for mib in 8 28 52; do
    rand_file "$TD/in" "$SIZE"
    b0=$(proxy_stat bytes_up)
    lun_bg --trace --stats --login-retry-interval 1 write "$U" --offset 0 -i "$TD/in"
    wait_until 20 eval '[ "$(proxy_stat bytes_up)" -ge $((b0 + mib * 1048576)) ] || ! lun_bg_running' ||
        fail "cut at $mib MiB: the write did not get there"
    lun_bg_running || { lun_wait; fail "cut at $mib MiB: lunaris ended before the cut (rc $LUN_RC): $LUN_ERR"; }
    t0=$(now)
    proxy_do refuse
    a=$(proxy_cmd cut)
    assert_match "$a" "^ok cut=[1-9]" "cut at $mib MiB: a connection was open"
    sleep "$OUTAGE"
    proxy_do accept
    t_relogin=""
    if wait_err_count "$TD/bg.err" "$RELOGIN" 2 30; then
        t_relogin=$(elapsed "$t0")
    fi
    lun_wait
    t_done=$(elapsed "$t0")
    assert_rc 0 "$LUN_RC" "write with a ${OUTAGE} s cut at $mib MiB"
    assert_file_eq "$TD/in" "$IMG" "cut at $mib MiB: backing file vs input"
    assert_recovery_trace "$LUN_ERR" "cut at $mib MiB"
    [ -n "$t_relogin" ] || fail "cut at $mib MiB: no second '$RELOGIN' in the trace"
    assert_match "$LUN_ERR" "reconnects [1-9]" "cut at $mib MiB: --stats counts the reconnect"
    # re-login cannot come before the proxy accepts again, nor long after
    # (retry interval 1 s, DefaultTime2Wait 2 s at tgtd)
    in_range "$t_relogin" "$OUTAGE" $((OUTAGE + 4)) ||
        fail "cut at $mib MiB: re-login ${t_relogin}s after the cut (outage ${OUTAGE}s)"
    log "cut at $mib MiB: re-login ${t_relogin}s after the cut, write done ${t_done}s after the cut (outage ${OUTAGE}s)"
    times+=("${mib}MiB:relogin=${t_relogin}s,done=${t_done}s")
    refused=$(proxy_stat refused)
    log "cut at $mib MiB: refused attempts so far: $refused"
done
echo "[$TEST_NAME] recovery times: ${times[*]}"
pass
