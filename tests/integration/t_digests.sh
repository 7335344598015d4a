#!/usr/bin/env bash
# t_digests: CRC32C header and data digests against tgtd (8 MiB write +
# read, data compared), checked on the wire with tshark (Good CRC32, no Bad,
# login keys); requiring crc32c from a target left at None fails clearly.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" dumpcap tshark

T=iqn.2024-01.test.lunaris:dig
TN=iqn.2024-01.test.lunaris:nodig
tgtd_quick a "$T" 64
tgtd_digests a 1 CRC32C
tgtd_target a 2 "$TN"
tgtd_lun a 2 1 "$TD/a/lun2.img" 16
IMG=$TD/a/lun1.img
P=$TGTD_PORT
U=iscsi://127.0.0.1:$P/$T/1
DIG=(--header-digest crc32c --data-digest crc32c)
LEN=$((8 << 20))
OFF=$((1 << 20))

rand_file "$TD/in" "$LEN"
cap_start "$TD/cap.pcap" "$P"
lun_ok "${DIG[@]}" write "$U" --offset "$OFF" -i "$TD/in"
lun_ok "${DIG[@]}" read "$U" --offset "$OFF" --length "$LEN" -o "$TD/out"
cap_stop
extract "$IMG" "$OFF" "$LEN" "$TD/back"
assert_file_eq "$TD/in" "$TD/back" "8 MiB written with digests vs backing file"
assert_file_eq "$TD/in" "$TD/out" "8 MiB read with digests"

# --- wire: negotiated keys
keys_req=$(tsh "$P" -Y 'iscsi.opcode==0x03' -T fields -e iscsi.keyvalue | tr ',' '\n')
keys_rsp=$(tsh "$P" -Y 'iscsi.opcode==0x23' -T fields -e iscsi.keyvalue | tr ',' '\n')
assert_contains "$keys_req" "HeaderDigest=CRC32C" "login request offers HeaderDigest=CRC32C"
assert_contains "$keys_req" "DataDigest=CRC32C" "login request offers DataDigest=CRC32C"
assert_contains "$keys_rsp" "HeaderDigest=CRC32C" "target answers HeaderDigest=CRC32C"
assert_contains "$keys_rsp" "DataDigest=CRC32C" "target answers DataDigest=CRC32C"
assert_not_contains "$keys_rsp" "HeaderDigest=None" "no HeaderDigest=None answer"

# --- wire: every digest good, in both directions
tsh "$P" -V >"$TD/cap.txt"
good_h=$(grep -cE 'HeaderDigest: 0x[0-9a-f]+ \(Good CRC32\)' "$TD/cap.txt")
good_d=$(grep -cE 'DataDigest: 0x[0-9a-f]+ \(Good CRC32\)' "$TD/cap.txt")
bad=$(grep -E 'Digest: 0x[0-9a-f]+ \((Bad|Incorrect)' "$TD/cap.txt" | head -5)
log "digests on the wire: $good_h good header, $good_d good data"
[ "$good_h" -gt 100 ] || fail "too few Good CRC32 header digests: $good_h"
[ "$good_d" -gt 100 ] || fail "too few Good CRC32 data digests: $good_d"
assert_eq "" "$bad" "bad digests on the wire"
# digests on PDUs sent by lunaris (not only the target's)
ours_h=$(tsh "$P" -Y "tcp.dstport==$P && iscsi.headerdigest32" -T fields -e frame.number | grep -c .)
ours_d=$(tsh "$P" -Y "tcp.dstport==$P && iscsi.datadigest32" -T fields -e frame.number | grep -c .)
[ "$ours_h" -gt 10 ] || fail "PDUs from lunaris with header digest: $ours_h"
[ "$ours_d" -gt 10 ] || fail "PDUs from lunaris with data digest: $ours_d"

# --- header digest only / data digest only still move data correctly
lun_ok --header-digest crc32c read "$U" --offset "$OFF" --length 65536 -o "$TD/o2"
cmp -s -n 65536 "$TD/in" "$TD/o2" || fail "read with header digest only"

# --- crc32c demanded, target left at None -> exit 2 and a clear message
UN=iscsi://127.0.0.1:$P/$TN/1
for opt in --header-digest --data-digest; do
    lun "$opt" crc32c read "$UN" --offset 0 --length 512
    assert_rc 2 "$LUN_RC" "$opt crc32c against a target without digests"
    assert_match "$LUN_ERR" "digest" "$opt crc32c refused: message names the digest"
    assert_match "$LUN_ERR" "crc32c" "$opt crc32c refused: message names CRC32C"
    assert_eq "" "$LUN_OUT" "$opt crc32c refused: no data on stdout"
done
# without the demand the same target works
lun_ok read "$UN" --offset 0 --length 512 -o "$TD/o3"

pass
