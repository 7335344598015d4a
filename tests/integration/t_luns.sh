#!/usr/bin/env bash
# t_luns: `lunaris luns` (text and --json) vs iscsi-ls -s (type, size),
# iscsi-inq (vendor/product/revision), iscsi-inq -e 1 -c 128 (serial); NAA
# identifiers for disks; serial/vendor after tgtadm --op update.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" iscsi-ls iscsi-inq /usr/bin/python3

T=iqn.2024-01.test.lunaris:luns
tgtd_start a
tgtd_target a 1 "$T"
tgtd_lun a 1 1 "$TD/a/lun1.img" 64
tgtd_lun a 1 2 null
truncate -s 16M "$TD/a/lun3.img"
have4k=0
if tadm a --lld iscsi --mode logicalunit --op new --tid 1 --lun 3 \
       --backing-store "$TD/a/lun3.img" --bstype rdwr --blocksize 4096 2>"$TD/bs.err"; then
    have4k=1
else
    log "tgtadm has no --blocksize ($(cat "$TD/bs.err")); LUN 3 not tested"
fi
P=$TGTD_PORT
BASE=iscsi://127.0.0.1:$P/$T

# text output -> $TD/text.tsv "lun type vendor product rev size bs serial id"
lun_ok luns "$BASE"
log "luns output:"; echo "$LUN_OUT" >&2
head -1 <<<"$LUN_OUT" | grep -q '^LUN' || fail "no header line"
# JSON, and a tsv of it; product may contain spaces, so use the JSON as the
# reference and check that every JSON value appears on the text line.
lun_ok luns --json "$BASE"
/usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin):
    print("\t".join(str(l[k]) for k in ("lun","type","vendor","product","revision","size","block_size","serial","identifier")))
' <<<"$LUN_OUT" >"$TD/json.tsv" || fail "luns --json unparsable: $LUN_OUT"
lun_ok luns "$BASE"
text=$LUN_OUT

want_luns="0 1 2"; [ $have4k = 1 ] && want_luns="0 1 2 3"
assert_eq "$want_luns" "$(cut -f1 "$TD/json.tsv" | xargs)" "LUN numbers (json)"
assert_eq "$want_luns" "$(tail -n +2 <<<"$text" | awk '{print $1}' | xargs)" "LUN numbers (text)"

lis iscsi-ls -s "iscsi://127.0.0.1:$P" >"$TD/ls.txt" || fail "iscsi-ls -s failed"
declare -A want_size=([1]=67108864 [2]=1099511627776 [3]=16777216)
declare -A want_bs=([1]=512 [2]=512 [3]=4096)

while IFS=$'\t' read -r n type vendor product rev size bs serial ident; do
    tline=$(awk -v n="$n" '$1 == n' <<<"$text")
    for v in "$type" "$vendor" "$product" "$rev" "$size" "$bs" "$serial" "$ident"; do
        [ -z "$v" ] && continue
        assert_contains "$tline" "$v" "LUN $n: text line vs json"
    done
    # type vs iscsi-ls -s
    lsline=$(grep -E "^Lun:$n +Type:" "$TD/ls.txt")
    assert_eq "$(sed -n 's/^Lun:[0-9]* *Type:\([A-Z_]*\).*/\1/p' <<<"$lsline")" "$type" "LUN $n type vs iscsi-ls"
    # vendor/product/revision vs iscsi-inq
    lis iscsi-inq "$BASE/$n" >"$TD/inq.txt" || fail "iscsi-inq $n failed"
    for f in Vendor:"$vendor" Product:"$product" Revision:"$rev"; do
        key=${f%%:*}
        iv=$(sed -n "s/^$key:\\(.*\\)/\\1/p" "$TD/inq.txt" | sed 's/ *$//')
        assert_eq "$iv" "${f#*:}" "LUN $n $key vs iscsi-inq"
    done
    # serial vs VPD 0x80 from iscsi-inq
    is=$(lis iscsi-inq -e 1 -c 128 "$BASE/$n" | sed -n 's/^Unit Serial Number:\[ *\(.*\)\]/\1/p')
    assert_eq "$is" "$serial" "LUN $n serial vs iscsi-inq -e 1 -c 128"
    [ "$type" = DIRECT_ACCESS ] || continue
    # size/block size vs our setup and iscsi-ls's "(Size:NNU)" (libiscsi
    # prints (last LBA * block size) truncated to the unit)
    assert_eq "${want_size[$n]}" "$size" "LUN $n size"
    assert_eq "${want_bs[$n]}" "$bs" "LUN $n block size"
    ls_sz=$(sed -n 's/.*(Size:\([0-9]*\)\([KMGT]\)).*/\1 \2/p' <<<"$lsline")
    [ -n "$ls_sz" ] || fail "LUN $n: no size in iscsi-ls line: $lsline"
    read -r num unit <<<"$ls_sz"
    case $unit in K) u=10 ;; M) u=20 ;; G) u=30 ;; T) u=40 ;; esac
    assert_eq "$num" "$(( (size - bs) >> u ))" "LUN $n size vs iscsi-ls ($lsline)"
    # identifier: NAA designator in hex (NAA 2, 3, 5 or 6; 8 or 16 bytes)
    [[ $ident =~ ^[2356][0-9A-Fa-f]{15}([0-9A-Fa-f]{16})?$ ]] ||
        fail "LUN $n identifier [$ident] is not NAA hex"
done <"$TD/json.tsv"

# identifiers differ between LUNs
assert_eq "$(grep -c . "$TD/json.tsv")" "$(cut -f9 "$TD/json.tsv" | sort -u | grep -c .)" "identifiers unique"

# identity set with tgtadm --op update shows up
tgtd_lun_params a 1 1 "scsi_id=LUNARIS-ID-0001,scsi_sn=SN4711XYZ,vendor_id=LUNARIS,product_id=TESTDISK"
lun_ok luns --json "$BASE"
got=$(/usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin):
    if l["lun"] == 1: print(l["serial"], l["vendor"], l["product"])
' <<<"$LUN_OUT")
assert_eq "SN4711XYZ LUNARIS TESTDISK" "$got" "LUN 1 identity after update"
is=$(lis iscsi-inq -e 1 -c 128 "$BASE/1" | sed -n 's/^Unit Serial Number:\[ *\(.*\)\]/\1/p')
assert_eq "$is" "SN4711XYZ" "iscsi-inq agrees on the new serial"
lun_ok luns "$BASE"
assert_contains "$(awk '$1 == 1' <<<"$LUN_OUT")" "SN4711XYZ" "text output shows the new serial"

# unknown target -> exit 2 naming it
lun luns "iscsi://127.0.0.1:$P/iqn.2024-01.test.lunaris:nosuch"
assert_rc 2 "$LUN_RC" "luns on unknown target"
assert_contains "$LUN_ERR" "iqn.2024-01.test.lunaris:nosuch" "error names the target"

pass
