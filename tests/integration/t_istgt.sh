#!/usr/bin/env bash
# t_istgt: lunaris against istgt (LUN 0, 32 MiB): discover, luns (vs
# iscsi-inq), 4 MiB write + read back compared with istgt's backing file.
# Every istgt login takes ~1 s.
. "$(dirname "$0")/lib.sh"
need "$ISTGT" iscsi-inq /usr/bin/python3

istgt_start i disk1 32
P=$ISTGT_PORT
T=$ISTGT_IQN
IMG=$TD/i/disk1.img
U=iscsi://127.0.0.1:$P/$T/0

# --- discover: istgt serves exactly one target on this portal
lun_ok discover "127.0.0.1:$P"
assert_eq "$T 127.0.0.1:$P,1" "$LUN_OUT" "discover against istgt"
lun_ok discover --json "127.0.0.1:$P"
assert_eq "$T 127.0.0.1:$P,1" "$(/usr/bin/python3 -c '
import json,sys
for t in json.load(sys.stdin):
    for p in t["portals"]: print("%s %s:%d,%d" % (t["target"], p["address"], p["port"], p["tpgt"]))
' <<<"$LUN_OUT")" "discover --json against istgt"

# --- luns vs iscsi-inq
lun_ok luns --json "iscsi://127.0.0.1:$P/$T"
read -r n type vendor product rev size bs serial ident < <(/usr/bin/python3 -c '
import json,sys
for l in json.load(sys.stdin):
    print(l["lun"], l["type"], l["vendor"], l["product"].replace(" ", "_"), l["revision"],
          l["size"], l["block_size"], l["serial"], l["identifier"])
' <<<"$LUN_OUT")
assert_eq 0 "$n" "istgt LU is LUN 0"
assert_eq DIRECT_ACCESS "$type" "type"
assert_eq 33554432 "$size" "size"
assert_eq 512 "$bs" "block size"
lis iscsi-inq "$U" >"$TD/inq.txt" || fail "iscsi-inq failed"
assert_eq "$(sed -n 's/^Vendor:\(.*\)/\1/p' "$TD/inq.txt" | sed 's/ *$//')" "$vendor" "vendor vs iscsi-inq"
assert_eq "$(sed -n 's/^Product:\(.*\)/\1/p' "$TD/inq.txt" | sed 's/ *$//' | tr ' ' _)" "$product" "product vs iscsi-inq"
assert_eq "$(sed -n 's/^Revision:\(.*\)/\1/p' "$TD/inq.txt" | sed 's/ *$//')" "$rev" "revision vs iscsi-inq"
is=$(lis iscsi-inq -e 1 -c 128 "$U" | sed -n 's/^Unit Serial Number:\[ *\(.*\)\]/\1/p')
assert_eq "$is" "$serial" "serial vs iscsi-inq -e 1 -c 128"
[[ $ident =~ ^[2356][0-9A-Fa-f]{15}([0-9A-Fa-f]{16})?$ ]] || fail "identifier [$ident] is not NAA hex"

# --- 4 MiB write, compared with the backing file, and read back
LEN=$((4 << 20))
OFF=$((3 << 20))
rand_file "$TD/in" "$LEN"
lun_ok write "$U" --offset "$OFF" -i "$TD/in"
extract "$IMG" "$OFF" "$LEN" "$TD/back"
assert_file_eq "$TD/in" "$TD/back" "4 MiB written to istgt vs backing file"
lun_ok read "$U" --offset "$OFF" --length "$LEN" -o "$TD/out"
assert_file_eq "$TD/in" "$TD/out" "4 MiB read back from istgt"
# a read of data written by istgt's side (the file) directly
rand_file "$TD/in2" 65536
dd if="$TD/in2" of="$IMG" bs=64K seek=1 conv=notrunc status=none
lun_ok read "$U" --offset 65536 --length 65536 -o "$TD/out2"
assert_file_eq "$TD/in2" "$TD/out2" "read of data placed in the backing file"

pass
