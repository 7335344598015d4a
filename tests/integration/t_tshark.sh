#!/usr/bin/env bash
# t_tshark: capture discover + luns + 1 MiB write/read against tgtd and let
# Wireshark's iSCSI dissector judge the PDUs lunaris sends: no malformed or
# expert-error frame; the expected opcodes are all there.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" dumpcap tshark

T=iqn.2024-01.test.lunaris:wire
tgtd_quick a "$T" 32
tgtd_lun a 1 2 null
P=$TGTD_PORT
U=iscsi://127.0.0.1:$P/$T/1
rand_file "$TD/in" $((1 << 20))

cap_start "$TD/cap.pcap" "$P"
lun_ok discover "127.0.0.1:$P"
lun_ok luns "iscsi://127.0.0.1:$P/$T"
lun_ok write "$U" --offset 4096 -i "$TD/in"
lun_ok read "$U" --offset 4096 --length 1M -o "$TD/out"
cap_stop
assert_file_eq "$TD/in" "$TD/out" "1 MiB round trip"

# --- malformed / expert errors
ours=$(tsh "$P" -Y "tcp.dstport==$P && (_ws.malformed || _ws.expert.severity == error)")
theirs=$(tsh "$P" -Y "tcp.srcport==$P && (_ws.malformed || _ws.expert.severity == error)")
if [ -n "$theirs" ]; then
    log "frames from the target flagged by tshark (not failing; tshark flags tgtd's INQUIRY data):"
    head -20 <<<"$theirs" >&2
fi
if [ -n "$ours" ]; then
    echo "$ours" | head -20 >&2
    tsh "$P" -Y "tcp.dstport==$P && (_ws.malformed || _ws.expert.severity == error)" -V | head -80 >&2
    fail "tshark flags $(grep -c . <<<"$ours") frame(s) sent by lunaris"
fi
# the dissector must have seen iSCSI at all (decode-as worked)
nours=$(tsh "$P" -Y "tcp.dstport==$P && iscsi" -T fields -e frame.number | grep -c .)
[ "$nours" -gt 10 ] || fail "only $nours iSCSI frames from lunaris decoded"
# no invalid opcode / key value flagged on our side
inv=$(tsh "$P" -Y "tcp.dstport==$P && (iscsi.opcode.invalid || iscsi.keyvalue.invalid)")
assert_eq "" "$inv" "invalid opcode/key flagged on lunaris PDUs"

# --- opcode histogram of lunaris's PDUs
hist=$(tsh "$P" -Y "tcp.dstport==$P && iscsi" -T fields -e iscsi.opcode | tr ',' '\n' | sort | uniq -c)
log "opcodes sent by lunaris:"; echo "$hist" >&2
thist=$(tsh "$P" -Y "tcp.srcport==$P && iscsi" -T fields -e iscsi.opcode | tr ',' '\n' | sort | uniq -c)
log "opcodes sent by the target:"; echo "$thist" >&2
has() { grep -qE "^ *[0-9]+ $1\$" <<<"$2"; }
for op in 0x03:Login 0x04:Text 0x01:SCSI-Command 0x06:Logout; do
    has "${op%%:*}" "$hist" || fail "no ${op#*:} (${op%%:*}) PDU from lunaris"
done
if has 0x31 "$thist"; then
    has 0x05 "$hist" || fail "target sent R2T but lunaris sent no Data-Out"
else
    log "no R2T seen: the write went as immediate/unsolicited data only"
    has 0x05 "$hist" || tsh "$P" -Y "tcp.dstport==$P && iscsi.opcode==0x01 && scsi.sbc.opcode==0x2a" | grep -q . ||
        fail "no Data-Out and no WRITE command with data"
fi
# target side sanity: login accepted, text and logout responses present
for op in 0x23 0x24 0x26 0x21; do
    has "$op" "$thist" || fail "no $op PDU from the target"
done
# login statuses all success
st=$(tsh "$P" -Y 'iscsi.opcode==0x23' -T fields -e iscsi.login.status | sort -u | xargs)
assert_eq "0x0000" "$st" "login response status"

pass
