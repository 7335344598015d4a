#!/usr/bin/env bash
# t_recover_lu_removed: the LU is deleted at the target (tgtadm logicalunit
# delete) in the middle of a `lunaris write`, `read` and `perf`.  lunaris must
# end with exit 3 (SCSI error, sense in words) or 2 (with a clear message),
# in bounded time: no hang, no crash, no sanitizer report.  The I/O goes
# through the fault proxy (relay + rate limit only) so that it lasts.
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:lurm
SIZE=$((64 << 20))
# the LU is 256 MiB so that a read of all of it is still running when tgtd
# finally lets the LU go (it refuses while commands are queued)
tgtd_quick a "$T" 256
IMG=$TD/a/lun1.img
proxy_start "$TGTD_PORT"
proxy_do rate 16000000
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
LUN_TIMEOUT=40
rand_file "$TD/in" "$SIZE"
CLEAR='LOGICAL UNIT NOT SUPPORTED|ILLEGAL REQUEST|NOT READY|not supported|replacement timeout|no longer|removed'

lu_delete() {   # tgtd refuses while the LU has commands queued: pause lunaris so it drains
    local i pid
    pid=$(pgrep -n -P "$LUN_BG_PID")
    [ -n "$pid" ] && kill -STOP "$pid"
    for ((i = 0; i < 500; i++)); do
        if tadm a --lld iscsi --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null 2>&1; then
            [ -n "$pid" ] && kill -CONT "$pid"
            return 0
        fi
        sleep 0.02
    done
    [ -n "$pid" ] && kill -CONT "$pid"
    fail "tgtadm could not delete LUN 1 in 10 s"
}

res=()
for op in write read perf; do
    b0=$(( $(proxy_stat bytes_up) + $(proxy_stat bytes_down) ))
    case $op in
    write) lun_bg --trace --stats write "$U" --offset 0 -i "$TD/in" ;;
    read)  lun_bg --trace --stats read "$U" --offset 0 --length $((256 << 20)) -o /dev/null ;;
    perf)  lun_bg --trace --stats perf "$U" --rw randread --bs 65536 --qd 8 --seconds 15 ;;
    esac
    wait_until 20 eval '[ $(( $(proxy_stat bytes_up) + $(proxy_stat bytes_down) )) -ge $((b0 + (16 << 20))) ] || ! lun_bg_running' ||
        fail "$op: no I/O"
    lun_bg_running || { lun_wait; fail "$op: lunaris ended before the LU was removed (rc $LUN_RC): $LUN_ERR"; }
    t0=$(now)
    lu_delete
    lun_wait
    t=$(elapsed "$t0")
    case $LUN_RC in
    2|3) ;;
    *) fail "$op with the LU removed: expected rc 3 (or 2), got $LUN_RC; stderr: $(grep -v '^trace:' <<<"$LUN_ERR" | head -c 1500)" ;;
    esac
    msg=$(grep -vE '^(trace|stats):' <<<"$LUN_ERR" | head -3)
    assert_match "$msg" "$CLEAR" "$op with the LU removed: clear message"
    log "$op: LU removed -> rc $LUN_RC after ${t}s: $(head -1 <<<"$msg")"
    res+=("$op:rc$LUN_RC/${t}s")
    # the LU comes back for the next round
    tgtd_lun a 1 1 "$IMG"
done
echo "[$TEST_NAME] results: ${res[*]}"
pass
