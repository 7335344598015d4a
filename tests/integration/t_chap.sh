#!/usr/bin/env bash
# t_chap: one-way and mutual CHAP against tgtd: secrets from a file and from
# the environment, wrong/missing secrets, algorithm lists; the secrets never
# appear in any output, trace, or the process's argv.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" socat

T1=iqn.2024-01.test.lunaris:chap1
T2=iqn.2024-01.test.lunaris:chap2
ISEC=isecret12345
TSEC=tsecret12345
tgtd_quick a "$T1" 16
tgtd_chap a 1 iuser "$ISEC"
tgtd_target a 2 "$T2"
tgtd_lun a 2 1 "$TD/a/lun2.img" 16
tgtd_chap a 2 iuser2 "$ISEC"
tgtd_chap a 2 tuser "$TSEC" --outgoing
P=$TGTD_PORT
U1=iscsi://127.0.0.1:$P/$T1/1
U2=iscsi://127.0.0.1:$P/$T2/1
rand_file "$TD/a/lun1.img" $((16 << 20))   # known content to read back
rand_file "$TD/a/lun2.img" $((16 << 20))

umask 077
printf '%s' "$ISEC" >"$TD/isec"
printf '%s\n' "$TSEC" >"$TD/tsec"          # trailing newline must be tolerated
printf '%s' "wrongsecret99" >"$TD/wrong"
printf '%s' "WRONGsecret1" >"$TD/twrong"
assert_eq 600 "$(stat -c %a "$TD/isec")" "secret file mode"

ALL=$TD/all-output.txt
: >"$ALL"
crun() {   # lun with --trace -v, and keep every byte of output for the secret check
    lun --trace -v "$@"
    cat "$TD/lun.out" "$TD/lun.err" >>"$ALL"
}
readback() {   # readback IMG OUT: compare the first MiB
    extract "$1" 0 $((1 << 20)) "$TD/back"
    assert_file_eq "$TD/back" "$2" "$3"
}

# --- one-way, good secret from a file
crun read "$U1" --offset 0 --length 1M -o "$TD/o1" --chap-user iuser --chap-secret-file "$TD/isec"
assert_rc 0 "$LUN_RC" "one-way CHAP, secret file"
readback "$TD/a/lun1.img" "$TD/o1" "one-way CHAP read"

# user from the URL
crun read "iscsi://iuser@127.0.0.1:$P/$T1/1" --offset 0 --length 4096 -o "$TD/o1" --chap-secret-file "$TD/isec"
assert_rc 0 "$LUN_RC" "one-way CHAP, user in URL"

# --- one-way, good secret from the environment
LUNARIS_CHAP_SECRET=$ISEC crun read "$U1" --offset 0 --length 1M -o "$TD/o2" --chap-user iuser
assert_rc 0 "$LUN_RC" "one-way CHAP, LUNARIS_CHAP_SECRET"
readback "$TD/a/lun1.img" "$TD/o2" "one-way CHAP (env) read"

# --- wrong secret
crun read "$U1" --offset 0 --length 512 --chap-user iuser --chap-secret-file "$TD/wrong"
assert_rc 2 "$LUN_RC" "wrong CHAP secret"
assert_match "$LUN_ERR" "authentication" "wrong secret: stderr mentions authentication"
assert_eq "" "$LUN_OUT" "wrong secret: no data"

# --- no credentials
crun read "$U1" --offset 0 --length 512
assert_rc 2 "$LUN_RC" "no CHAP credentials"
assert_match "$LUN_ERR" "authentication" "no credentials: stderr mentions authentication"

# --- mutual, good
crun read "$U2" --offset 0 --length 1M -o "$TD/o3" --chap-user iuser2 --chap-secret-file "$TD/isec" \
    --target-user tuser --target-secret-file "$TD/tsec"
assert_rc 0 "$LUN_RC" "mutual CHAP"
readback "$TD/a/lun2.img" "$TD/o3" "mutual CHAP read"
LUNARIS_CHAP_SECRET=$ISEC LUNARIS_TARGET_SECRET=$TSEC crun read "$U2" --offset 0 --length 4096 \
    -o "$TD/o3" --chap-user iuser2 --target-user tuser
assert_rc 0 "$LUN_RC" "mutual CHAP, secrets from the environment"

# --- mutual, wrong target secret
crun read "$U2" --offset 0 --length 512 --chap-user iuser2 --chap-secret-file "$TD/isec" \
    --target-user tuser --target-secret-file "$TD/twrong"
assert_rc 2 "$LUN_RC" "mutual CHAP with wrong target secret"
assert_match "$LUN_ERR" "authentic|CHAP_R|target secret" "wrong target secret: message"

# --- sha256: tgtd implements CHAP_A=7 as SHA-1 -> clear error naming SHA-256, no hang
t0=$(date +%s.%N)
LUN_TIMEOUT=15 crun read "$U1" --offset 0 --length 512 --chap-user iuser --chap-secret-file "$TD/isec" \
    --chap-algorithms sha256
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
assert_rc 2 "$LUN_RC" "--chap-algorithms sha256 against tgtd"
awk -v e="$el" 'BEGIN{exit !(e < 10)}' || fail "sha256 failure took ${el}s (limit 10 s)"
assert_match "$LUN_ERR" "SHA-?256" "sha256 failure: message names SHA-256"

# --- sha1,md5: tgtd knows only 5 (MD5) and 7, so it picks MD5 -> works
crun read "$U1" --offset 0 --length 4096 -o "$TD/o4" --chap-user iuser --chap-secret-file "$TD/isec" \
    --chap-algorithms sha1,md5
assert_rc 0 "$LUN_RC" "--chap-algorithms sha1,md5 (tgtd selects MD5)"

# --- libiscsi-style secret in the URL: accepted with a warning, never echoed
crun read "iscsi://iuser%$ISEC@127.0.0.1:$P/$T1/1" --offset 0 --length 4096 -o "$TD/o5"
assert_rc 0 "$LUN_RC" "user%secret@ URL"
assert_match "$LUN_ERR" "warning" "user%secret@ URL warns"

# --- no secret in any output seen so far (the URL case excepted: the
#     user typed it into argv, but we still must not print it)
for s in "$ISEC" "$TSEC"; do
    if grep -qF -- "$s" "$ALL"; then
        grep -nF -- "$s" "$ALL" | head -5 >&2
        fail "secret $s appears in lunaris output"
    fi
done

# --- not in argv of the running process: hold it in login against a
#     listener that accepts and never answers, then look at /proc
Q=$(free_port)
socat "TCP-LISTEN:$Q,bind=127.0.0.1,reuseaddr" SYSTEM:"sleep 30" >/dev/null 2>&1 &
SPID=$!; _PIDS+=("$SPID")
wait_listen "$Q" 5 "$SPID" || fail "socat listener did not start"
"$LUNARIS" read "iscsi://127.0.0.1:$Q/$T1/1" --offset 0 --length 512 --chap-user iuser \
    --chap-secret-file "$TD/isec" --target-user tuser --target-secret-file "$TD/tsec" \
    >/dev/null 2>"$TD/held.err" &
LPID=$!; _PIDS+=("$LPID")
for ((i = 0; i < 100; i++)); do
    ss -Htn "dport = :$Q" 2>/dev/null | grep -q ESTAB && break
    sleep 0.02
done
kill -0 "$LPID" 2>/dev/null || fail "lunaris exited before the argv check"
tr '\0' ' ' <"/proc/$LPID/cmdline" >"$TD/cmdline"
grep -q -- "--chap-secret-file" "$TD/cmdline" || fail "did not read the right process: $(cat "$TD/cmdline")"
! grep -qF -e "$ISEC" -e "$TSEC" "$TD/cmdline" || fail "secret in argv: $(cat "$TD/cmdline")"
stop_pid "$LPID" 2
check_sanitizer "$TD/held.err" "lunaris held in login"

pass
