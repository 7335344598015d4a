#!/usr/bin/env bash
# t_escalation: a command that gets no answer is aborted (ABORT TASK), then
# its logical unit is reset (LOGICAL UNIT RESET), then the connection is
# dropped and recovered; the write still completes with the right data.
# The proxy stalls both directions, so the task management requests go
# unanswered too: every step of the escalation runs.  Also: the UNIT
# ATTENTION every new session sees is reported (-v) and the command repeated.
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:esc
tgtd_quick a "$T" 64
IMG=$TD/a/lun1.img
proxy_start "$TGTD_PORT"
proxy_do rate 8000000
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
rand_file "$TD/in" $((32 << 20))
LUN_TIMEOUT=60

lun_bg --trace --stats --command-timeout 2 --noop-interval 0 --login-retry-interval 1 \
    write "$U" --offset 0 -i "$TD/in"
wait_until 20 eval '[ "$(proxy_stat bytes_up)" -ge $((4 << 20)) ]' || fail "no I/O"
t0=$(now)
proxy_do stall
wait_err_count "$TD/bg.err" 'running ABORT_TASK -> aborting' 1 10 ||
    fail "no ABORT TASK after the command timeout: $(tail -5 "$TD/bg.err")"
t_abort=$(elapsed "$t0")
wait_err_count "$TD/bg.err" 'aborting LU_RESET -> resetting' 1 10 ||
    fail "no LOGICAL UNIT RESET after the unanswered abort: $(tail -5 "$TD/bg.err")"
t_reset=$(elapsed "$t0")
wait_err_count "$TD/bg.err" 'logged_in T15 -> failed \(command timeout' 1 10 ||
    fail "connection not dropped after the unanswered reset: $(tail -5 "$TD/bg.err")"
t_drop=$(elapsed "$t0")
proxy_do resume
lun_wait
assert_rc 0 "$LUN_RC" "write after the escalation: $(msgs "$LUN_ERR" | head -5)"
assert_recovery_trace "$LUN_ERR" "escalation"
cmp -n $((32 << 20)) "$TD/in" "$IMG" || fail "backing file differs from the input"
in_range "$t_abort" 1 5 || fail "ABORT TASK ${t_abort}s after the stall, want ~2-4"
assert_match "$LUN_ERR" 'aborts [1-9]' "stats count the abort"
assert_match "$LUN_ERR" 'lu-resets [1-9]' "stats count the reset"
assert_match "$LUN_ERR" 'reconnects [1-9]' "stats count the reconnect"
log "stall -> abort ${t_abort}s, LU reset ${t_reset}s, drop ${t_drop}s"

# UNIT ATTENTION (power on / reset) on the first command of a new session:
# reported with -v, command repeated, counted
lun_ok -v --stats read "iscsi://127.0.0.1:$TGTD_PORT/$T/1" --offset 0 --length 4096 -o /dev/null
assert_match "$LUN_ERR" 'event: UNIT ATTENTION: .*\(0x29/0x0.\) \(command repeated\)' "UA event"
assert_match "$LUN_ERR" 'retries [1-9]' "UA retry counted"
pass
