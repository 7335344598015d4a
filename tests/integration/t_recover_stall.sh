#!/usr/bin/env bash
# t_recover_stall: the proxy stops forwarding (both directions, nothing
# closed) for 15 s in the middle of a 64 MiB `lunaris read`, with
# --noop-interval 2 --noop-timeout 2.  The stall must be detected by NOP
# timeout within ~4 s (+ slack), the session must come back once the proxy
# resumes (the new login is stalled too until then), and the data read must
# equal the backing file.  Two stall points (each round takes ~20 s).
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:stall
SIZE=$((64 << 20))
RATE=16000000
STALL=${STALL:-15}
tgtd_quick a "$T" 64
IMG=$TD/a/lun1.img
rand_file "$IMG" "$SIZE"          # known content, written behind tgtd's back
proxy_start "$TGTD_PORT"
proxy_do rate "$RATE"
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
NOPFAIL='logged_in T[0-9]+ -> failed \(.*nop timeout'
RELOGIN='in_login T5 -> logged_in'

res=()
for mib in ${STALL_POINTS:-12 44}; do
    rm -f "$TD/out"
    b0=$(proxy_stat bytes_down)
    lun_bg --trace --stats --noop-interval 2 --noop-timeout 2 --login-retry-interval 1 \
        read "$U" --offset 0 --length "$SIZE" -o "$TD/out"
    wait_until 20 eval '[ "$(proxy_stat bytes_down)" -ge $((b0 + mib * 1048576)) ] || ! lun_bg_running' ||
        fail "stall at $mib MiB: the read did not get there"
    lun_bg_running || { lun_wait; fail "stall at $mib MiB: lunaris ended before the stall (rc $LUN_RC): $LUN_ERR"; }
    t0=$(now)
    a=$(proxy_cmd stall)
    assert_match "$a" "^ok stall open=[1-9]" "stall at $mib MiB: a connection was open"
    t_detect=""
    wait_err_count "$TD/bg.err" "$NOPFAIL" 1 10 && t_detect=$(elapsed "$t0")
    sleep "$(awk -v s="$STALL" -v e="$(elapsed "$t0")" 'BEGIN { d = s - e; print (d > 0 ? d : 0) }')"
    t_res=$(now)
    proxy_do resume
    t_relogin=""
    wait_err_count "$TD/bg.err" "$RELOGIN" 2 20 && t_relogin=$(elapsed "$t_res")
    lun_wait
    t_done=$(elapsed "$t_res")
    [ -n "$t_detect" ] || fail "stall at $mib MiB: no NOP timeout within 10 s: $(grep '^trace:' <<<"$LUN_ERR" | tail -5)"
    in_range "$t_detect" 1.5 6.5 || fail "stall at $mib MiB: NOP timeout ${t_detect}s after the stall (want ~4 s)"
    assert_rc 0 "$LUN_RC" "read with a ${STALL} s stall at $mib MiB"
    assert_file_eq "$IMG" "$TD/out" "stall at $mib MiB: data read vs backing file"
    assert_recovery_trace "$LUN_ERR" "stall at $mib MiB"
    [ -n "$t_relogin" ] || fail "stall at $mib MiB: no re-login within 20 s of resume"
    in_range "$t_relogin" 0 5 || fail "stall at $mib MiB: re-login ${t_relogin}s after resume"
    assert_match "$LUN_ERR" "nop-timeouts [1-9]" "stall at $mib MiB: --stats counts the NOP timeout"
    log "stall at $mib MiB: NOP timeout ${t_detect}s after the stall; re-login ${t_relogin}s, read done ${t_done}s after resume"
    res+=("${mib}MiB:detect=${t_detect}s,relogin=${t_relogin}s,done=${t_done}s(after resume)")
done
echo "[$TEST_NAME] stall results: ${res[*]}"
pass
