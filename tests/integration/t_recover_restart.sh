#!/usr/bin/env bash
# t_recover_restart: tgtd is killed (kill -9, no logout, no session state
# kept) in the middle of a 64 MiB `lunaris write` and restarted 1 s later on
# the same port with the same target, LUN and backing file.  The write must
# complete (exit 0) and the backing file must equal the input.
# Rounds 1-3 go through the fault proxy with a rate limit so that the kill
# lands at a known point (8, 30, 52 MiB); the proxy only relays here (after
# the kill it resets lunaris's attempts while nothing listens behind it).
# Round 4 talks to tgtd directly and kills it as early as possible.
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:restart
SIZE=$((64 << 20))
DOWN=1
tgtd_quick a "$T" 64
IMG=$TD/a/lun1.img
proxy_start "$TGTD_PORT"
proxy_do rate 16000000
RELOGIN='in_login T5 -> logged_in'

restart() {   # kill -9 tgtd a, wait DOWN s, start it again with T and LUN 1 on IMG
    tgtd_kill9 a
    sleep "$DOWN"
    tgtd_restart a
    tgtd_target a 1 "$T"
    tgtd_lun a 1 1 "$IMG"
}

res=()
round() {   # round URL MIB|direct
    local u=$1 at=$2 b0 t0 t_relogin="" t_done
    rand_file "$TD/in" "$SIZE"
    b0=$(proxy_stat bytes_up)
    lun_bg --trace --stats --login-retry-interval 1 write "$u" --offset 0 -i "$TD/in"
    if [ "$at" = direct ]; then
        wait_err_count "$TD/bg.err" "$RELOGIN" 1 10 || true
    else
        wait_until 20 eval '[ "$(proxy_stat bytes_up)" -ge $((b0 + at * 1048576)) ] || ! lun_bg_running' ||
            fail "kill at $at: the write did not get there"
    fi
    if ! lun_bg_running; then
        lun_wait
        [ "$at" = direct ] && { log "kill at $at: write finished before the kill (rc $LUN_RC), round skipped"; return 0; }
        fail "kill at $at MiB: lunaris ended before the kill (rc $LUN_RC): $LUN_ERR"
    fi
    t0=$(now)
    restart
    wait_err_count "$TD/bg.err" "$RELOGIN" 2 30 && t_relogin=$(elapsed "$t0")
    lun_wait
    t_done=$(elapsed "$t0")
    assert_rc 0 "$LUN_RC" "write with tgtd killed and restarted at $at"
    assert_file_eq "$TD/in" "$IMG" "kill at $at: backing file vs input"
    assert_recovery_trace "$LUN_ERR" "kill at $at"
    log "kill at $at: re-login ${t_relogin}s, write done ${t_done}s after the kill (tgtd down ${DOWN}s)"
    res+=("$at:relogin=${t_relogin}s,done=${t_done}s")
}

for mib in 8 30 52; do
    round "iscsi://127.0.0.1:$PROXY_PORT/$T/1" "$mib"
done
round "iscsi://127.0.0.1:$TGTD_PORT/$T/1" direct
echo "[$TEST_NAME] recovery times: ${res[*]}"
pass
