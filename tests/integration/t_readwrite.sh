#!/usr/bin/env bash
# t_readwrite: lunaris write/read against a tgtd file-backed LUN, compared
# byte for byte with the backing file; input/output via files and via
# stdin/stdout; alignment, range, URL, target, port and LUN errors.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM"

T=iqn.2024-01.test.lunaris:rw
SIZE=$((64 << 20))
tgtd_quick a "$T" 64
IMG=$TD/a/lun1.img
P=$TGTD_PORT
U=iscsi://127.0.0.1:$P/$T/1

# --- data round trips
i=0
for off in 0 4096 $(((1 << 20) + 512)) END; do
    for len in 512 65536 $((4 << 20)) $(((7 << 20) + 512)); do
        o=$off
        [ "$o" = END ] && o=$((SIZE - len))
        i=$((i + 1))
        rand_file "$TD/in" "$len"
        if ((i % 2)); then
            lun_ok write "$U" --offset "$o" -i "$TD/in"
        else
            LUN_STDIN=$TD/in lun_ok write "$U" --offset "$o"
        fi
        extract "$IMG" "$o" "$len" "$TD/back"
        assert_file_eq "$TD/in" "$TD/back" "write $len bytes at $o (case $i): backing file"
        rm -f "$TD/out"
        if (((i / 2) % 2)); then
            lun_ok read "$U" --offset "$o" --length "$len" -o "$TD/out"
        else
            lun_ok read "$U" --offset "$o" --length "$len"
            cp "$TD/lun.out" "$TD/out"
            assert_eq "" "$LUN_ERR" "read to stdout: stderr"
        fi
        assert_file_eq "$TD/in" "$TD/out" "read $len bytes at $o (case $i)"
    done
done
# sizes with suffixes, if the CLI takes them, must equal the byte values
lun_ok read "$U" --offset 0 --length 65536 -o "$TD/a1"
extract "$IMG" 0 65536 "$TD/a2"
assert_file_eq "$TD/a2" "$TD/a1" "read of the first 64 KiB vs backing file"

# --- errors: backing file must stay unchanged
before=$(sum "$IMG")
rand_file "$TD/in" 4096
rand_file "$TD/odd" 1000

lun write "$U" --offset 100 -i "$TD/in"
assert_rc 1 "$LUN_RC" "write at misaligned offset"
assert_match "$LUN_ERR" "offset.*(multiple|align)|(multiple|align).*offset" "misaligned offset message"

lun write "$U" --offset 0 -i "$TD/odd"
assert_rc 1 "$LUN_RC" "write of 1000 bytes"
assert_match "$LUN_ERR" "1000.*(multiple|align)|(multiple|align).*1000" "misaligned input size message"

LUN_STDIN=$TD/odd lun write "$U" --offset 0
assert_rc 1 "$LUN_RC" "write of 1000 bytes from stdin"
assert_match "$LUN_ERR" "multiple|align" "misaligned stdin size message"

lun write "$U" --offset $((SIZE - 512)) -i "$TD/in"
assert_rc 1 "$LUN_RC" "write beyond the end"
assert_match "$LUN_ERR" "end|beyond|capacity|exceed" "write beyond the end message"

assert_eq "$before" "$(sum "$IMG")" "backing file changed by a refused write"

lun read "$U" --offset 512 --length 100
assert_rc 1 "$LUN_RC" "read misaligned length"
assert_match "$LUN_ERR" "length.*(multiple|align)" "misaligned length message"
assert_eq "" "$LUN_OUT" "no data on stdout for a refused read"

lun read "$U" --offset 7 --length 512
assert_rc 1 "$LUN_RC" "read misaligned offset"

lun read "$U" --offset $((SIZE - 512)) --length 1024
assert_rc 1 "$LUN_RC" "read beyond the end"
assert_match "$LUN_ERR" "end|beyond|capacity|exceed" "read beyond the end message"
lun read "$U" --offset "$SIZE" --length 512
assert_rc 1 "$LUN_RC" "read at the end"

# --- URL / target / port / LUN errors
for bad in "http://127.0.0.1:$P/$T/1" "iscsi://127.0.0.1:$P/$T" "iscsi://127.0.0.1:$P/$T/x" "iscsi://:$P/$T/1" "iscsi://127.0.0.1:99999/$T/1"; do
    lun read "$bad" --offset 0 --length 512
    assert_rc 1 "$LUN_RC" "bad URL $bad"
    [ -n "$LUN_ERR" ] || fail "no message for bad URL $bad"
done

lun read "iscsi://127.0.0.1:$P/iqn.2024-01.test.lunaris:nosuch/1" --offset 0 --length 512
assert_rc 2 "$LUN_RC" "unknown target"
assert_contains "$LUN_ERR" "iqn.2024-01.test.lunaris:nosuch" "unknown target: message names it"
assert_match "$LUN_ERR" "not found|unknown|no such|does not exist" "unknown target: message says it is not there"

Q=$(free_port)
lun read "iscsi://127.0.0.1:$Q/$T/1" --offset 0 --length 512
assert_rc 2 "$LUN_RC" "port with nothing listening"
assert_match "$LUN_ERR" "127\.0\.0\.1:$Q" "connect error names the portal"
assert_match "$LUN_ERR" "refused|connect" "connect error says why"

before=$(sum "$IMG")
lun read "iscsi://127.0.0.1:$P/$T/9" --offset 0 --length 512
assert_rc 3 "$LUN_RC" "LUN 9 does not exist"
assert_match "$LUN_ERR" "LOGICAL UNIT NOT SUPPORTED|ILLEGAL REQUEST" "LUN 9: sense in words"
lun write "iscsi://127.0.0.1:$P/$T/9" --offset 0 -i "$TD/in"
assert_rc 3 "$LUN_RC" "write to LUN 9"
assert_eq "$before" "$(sum "$IMG")" "backing file changed by a write to LUN 9"

# --- options before and after the subcommand are the same
norm() { sed -e 's/pid [0-9]*/pid N/g' <<<"$1"; }
lun_ok --trace read "$U" --offset 4096 --length 65536
cp "$TD/lun.out" "$TD/o1"; e1=$(norm "$LUN_ERR")
lun_ok read "$U" --offset 4096 --length 65536 --trace
cp "$TD/lun.out" "$TD/o2"; e2=$(norm "$LUN_ERR")
assert_file_eq "$TD/o1" "$TD/o2" "stdout with --trace before/after the subcommand"
assert_eq "$e1" "$e2" "trace with --trace before/after the subcommand"
assert_contains "$e1" "free T1 -> in_login" "read --trace shows the login"
lun_ok read --offset 4096 "$U" -o "$TD/o3" --length 65536
assert_file_eq "$TD/o1" "$TD/o3" "options interleaved with operands"

pass
