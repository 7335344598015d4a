#!/usr/bin/env bash
# t_retry_schedule: with the session up in the middle of a write, the proxy
# cuts the connection and from then on accepts and at once closes every new
# one.  With --login-retry-interval 1 --conn-login-max 4 --polling-interval 3
# --replacement-timeout 12 the login attempts counted at the proxy must come
# ~1 s apart for the first ~4 s, then ~3 s apart, and lunaris must exit 2
# (replacement timeout) ~12 s after the cut.  Two rounds (different cut points).
# shellcheck disable=SC2016,SC2034,SC2001  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" "$PY"

T=iqn.2024-01.test.lunaris:sched
SIZE=$((64 << 20))
tgtd_quick a "$T" 64
proxy_start "$TGTD_PORT"
proxy_do rate 16000000
U=iscsi://127.0.0.1:$PROXY_PORT/$T/1
LUN_TIMEOUT=30
rand_file "$TD/in" "$SIZE"

res=()
for mib in 8 40; do
    b0=$(proxy_stat bytes_up)
    r0=$(proxy_times refuse | wc -l)
    c0=$(proxy_times cut | wc -l)
    lun_bg --trace --stats --login-retry-interval 1 --conn-login-max 4 --polling-interval 3 \
        --replacement-timeout 12 write "$U" --offset 0 -i "$TD/in"
    wait_until 20 eval '[ "$(proxy_stat bytes_up)" -ge $((b0 + mib * 1048576)) ] || ! lun_bg_running' ||
        fail "cut at $mib MiB: the write did not get there"
    lun_bg_running || { lun_wait; fail "cut at $mib MiB: lunaris ended before the cut (rc $LUN_RC): $LUN_ERR"; }
    t0=$(now)
    proxy_do refuse
    assert_match "$(proxy_cmd cut)" "^ok cut=[1-9]" "cut at $mib MiB: a connection was open"
    lun_wait
    t=$(elapsed "$t0")
    proxy_do accept
    assert_rc 2 "$LUN_RC" "cut at $mib MiB, logins refused for good"
    assert_match "$(msgs "$LUN_ERR")" "replacement timeout" "cut at $mib MiB: the error message (not only the trace) names the replacement timeout"
    in_range "$t" 11.5 14.5 || fail "cut at $mib MiB: exit ${t}s after the cut (want ~12 s)"

    # attempt times relative to the cut, from the proxy's monotonic log
    tcut=$(proxy_times cut | sed -n "$((c0 + 1))p")
    mapfile -t at < <(proxy_times refuse | tail -n +$((r0 + 1)) | awk -v c="$tcut" '{ printf "%.2f\n", $1 - c }')
    n=${#at[@]}
    log "cut at $mib MiB: $n attempts at +${at[*]} s after the cut; exit after ${t}s"
    [ "$n" -ge 4 ] || fail "cut at $mib MiB: only $n login attempts in 12 s: ${at[*]}"
    # intervals: a first phase ~1 s apart, then a second ~3 s apart, no mixing;
    # the first poll comes 3 s after the window ends, up to ~4 s after the last retry
    iv=$(awk -v list="${at[*]}" 'BEGIN {
            n = split(list, a, " "); ph = 1; n1 = n2 = 0; last1 = a[1]
            for (i = 2; i <= n; i++) {
                d = a[i] - a[i - 1]
                if (d >= 0.7 && d <= 1.8 && ph == 1) { n1++; last1 = a[i] }
                else if (ph == 1 && d >= 2.4 && d <= 4.8) { ph = 2; n2++ }  # window end + 3 s
                else if (ph == 2 && d >= 2.4 && d <= 3.8) { n2++ }
                else { printf "bad interval %.2f s between attempts %d and %d\n", d, i - 1, i; exit 1 }
            }
            printf "n1=%d n2=%d last1=%.2f\n", n1, n2, last1 }') ||
        fail "cut at $mib MiB: schedule: $iv (attempts at +${at[*]} s)"
    n1=$(sed 's/.*n1=\([0-9]*\).*/\1/' <<<"$iv"); n2=$(sed 's/.*n2=\([0-9]*\).*/\1/' <<<"$iv")
    last1=$(sed 's/.*last1=//' <<<"$iv")
    # DefaultTime2Wait (2 s at tgtd) delays the first attempt, so the 4 s
    # window holds attempts at ~+2 and ~+3 (maybe ~+4): at least one 1 s interval;
    # then polling at +7, +10 until the replacement timeout at +12
    [ "$n1" -ge 1 ] || fail "cut at $mib MiB: no interval of ~1 s: $iv (attempts at +${at[*]} s)"
    [ "$n2" -ge 2 ] || fail "cut at $mib MiB: fewer than 2 intervals of ~3 s (polling): $iv (attempts at +${at[*]} s)"
    # conn-login-max 4: the 1 s retries stop 4 s (+ Time2Wait, + slack) after the failure
    in_range "$last1" 2.5 7.5 || fail "cut at $mib MiB: last 1 s-spaced attempt at +${last1}s (want ~4 s): +${at[*]}"
    # the trace agrees: polling after conn-login-max, as many attempts as the proxy saw
    assert_match "$LUN_ERR" "in_login T[0-9]+ -> polling" "cut at $mib MiB: trace shows the switch to polling"
    assert_match "$LUN_ERR" "polling T[0-9]+ -> in_login" "cut at $mib MiB: trace shows a polling attempt"
    nt=$(awk '/ logged_in T[0-9]+ -> failed/ { f = 1 } f && / -> in_login/ { c++ } END { print c + 0 }' <<<"$LUN_ERR")
    in_range "$nt" "$n" $((n + 1)) || fail "cut at $mib MiB: trace has $nt attempts, proxy saw $n"
    res+=("${mib}MiB:attempts=+$(IFS=,; echo "${at[*]}")s,exit=${t}s")
done
echo "[$TEST_NAME] schedules: ${res[*]}"
pass
