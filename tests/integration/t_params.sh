#!/usr/bin/env bash
# t_params: protocol paths tgtd's defaults do not exercise, each with data
# written through lunaris, compared with the backing file and read back:
#   1. unsolicited Data-Out (InitialR2T=No, ImmediateData=Yes, FBL 64 KiB)
#   2. many R2Ts, Data-Out split at the target's MaxRecvDataSegmentLength 4096
#   3. target MaxRecvDataSegmentLength 512 + a 16 MiB read
#   4. NOP-In from the target (nop_interval/nop_count) answered during perf
#   5. big SendTargets responses: 150 long names, then 1100 (two Text PDUs)
# Login redirection is in t_redirect.sh.
. "$(dirname "$0")/lib.sh"
need "$TGTD" "$TGTADM" dumpcap tshark

PFX=iqn.2024-01.test.lunaris
tparam() {   # tparam NAME TID KEY=VALUE...
    local n=$1 tid=$2 kv
    shift 2
    for kv in "$@"; do
        tadm "$n" --lld iscsi --mode target --op update --tid "$tid" \
            --name "${kv%%=*}" --value "${kv#*=}" || fail "tgtadm: $kv on $n tid $tid"
    done
}
# roundtrip URL IMG OFFSET BYTES WHAT: write random data, compare the backing
# file, read it back, compare.
roundtrip() {
    local u=$1 img=$2 off=$3 len=$4 what=$5
    rand_file "$TD/in" "$len"
    lun_ok write "$u" --offset "$off" -i "$TD/in"
    extract "$img" "$off" "$len" "$TD/back"
    assert_file_eq "$TD/in" "$TD/back" "$what: write vs backing file"
    rm -f "$TD/out"
    lun_ok read "$u" --offset "$off" --length "$len" -o "$TD/out"
    assert_file_eq "$TD/in" "$TD/out" "$what: read back"
}
# pdus PORT FILTER -> one line per iSCSI PDU in frames matching FILTER:
# "opcode ttt datasegmentlength bufferoffset" ("-" when absent).  tshark's
# -T fields joins several PDUs of one TCP segment with commas, so use PDML.
pdus() {
    tsh "$1" -Y "tcp.port==$1 && ($2)" -T pdml -j iscsi | python3 -c '
import sys, xml.etree.ElementTree as ET
keys = ("iscsi.opcode", "iscsi.targettransfertag", "iscsi.datasegmentlength", "iscsi.bufferOffset")
for ev, el in ET.iterparse(sys.stdin):
    if el.tag == "proto" and el.get("name") == "iscsi":
        f = {x.get("name"): x.get("show") for x in el.iter("field")}
        print(" ".join(str(f.get(k, "-")).lower() for k in keys))
    if el.tag == "packet":
        el.clear()'
}
# no_errors PORT WHAT: no malformed PDU / expert error in PDUs sent to PORT
no_errors() {
    local e
    e=$(tsh "$1" -Y "tcp.dstport==$1 && (_ws.malformed || _ws.expert.severity == error)" | head -5)
    assert_eq "" "$e" "$2: malformed/expert errors in PDUs from lunaris"
}

# one tgtd per wire scenario, so one capture separates them by port
T1=$PFX:unsol
T2=$PFX:r2t
T3=$PFX:smallmrdsl
tgtd_quick u "$T1" 32
P1=$TGTD_PORT
tparam u 1 InitialR2T=No ImmediateData=Yes FirstBurstLength=65536
tgtd_quick r "$T2" 32
P2=$TGTD_PORT
tparam r 1 ImmediateData=No InitialR2T=Yes MaxOutstandingR2T=4 MaxBurstLength=65536 \
    FirstBurstLength=16384 MaxRecvDataSegmentLength=4096
tgtd_quick s "$T3" 32
P3=$TGTD_PORT
tparam s 1 MaxRecvDataSegmentLength=512

cap_start "$TD/cap.pcap" "$P1" "$P2" "$P3"
t0=$(date +%s.%N)
roundtrip "iscsi://127.0.0.1:$P1/$T1/1" "$TD/u/lun1.img" $((1 << 20)) $(((4 << 20) + 4096)) \
    "unsolicited Data-Out, 4 MiB + 4 KiB at 1 MiB"
roundtrip "iscsi://127.0.0.1:$P2/$T2/1" "$TD/r/lun1.img" 4096 $((8 << 20)) \
    "many R2Ts, 8 MiB at 4 KiB"
roundtrip "iscsi://127.0.0.1:$P3/$T3/1" "$TD/s/lun1.img" 512 $((1 << 20)) \
    "target MRDSL 512, 1 MiB at 512"
rand_file "$TD/big" $((16 << 20))
dd if="$TD/big" of="$TD/s/lun1.img" bs=1M conv=notrunc status=none || fail "dd to the backing file"
lun_ok read "iscsi://127.0.0.1:$P3/$T3/1" --offset 0 --length $((16 << 20)) -o "$TD/out"
assert_file_eq "$TD/big" "$TD/out" "16 MiB read from a target with MRDSL 512"
cap_stop
log "scenarios 1-3 I/O took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"

# --- 1. wire: unsolicited Data-Out (TTT 0xffffffff), within FirstBurstLength
keys=$(tsh "$P1" -Y "tcp.port==$P1 && iscsi.opcode==0x23" -T fields -e iscsi.keyvalue | tr ',' '\n')
assert_contains "$keys" "InitialR2T=No" "1: target answered InitialR2T=No"
assert_contains "$keys" "ImmediateData=Yes" "1: target answered ImmediateData=Yes"
pdus "$P1" "tcp.dstport==$P1" >"$TD/p1"
n_do=$(awk '$1=="0x05"' "$TD/p1" | wc -l)
n_unsol=$(awk '$1=="0x05" && $2=="0xffffffff"' "$TD/p1" | wc -l)
n_imm=$(awk '$1=="0x01" && $3 > 0' "$TD/p1" | wc -l)
log "1: $n_do Data-Out PDUs, $n_unsol unsolicited; $n_imm commands with immediate data"
[ "$n_unsol" -gt 0 ] || fail "1: no unsolicited Data-Out (TTT 0xffffffff) with InitialR2T=No"
[ "$n_imm" -gt 0 ] || fail "1: no immediate data in SCSI Commands with ImmediateData=Yes"
# unsolicited data (immediate + Data-Out) never beyond FirstBurstLength
over=$(awk '$1=="0x05" && $2=="0xffffffff" && $4 + $3 > 65536' "$TD/p1" | head -3)
assert_eq "" "$over" "1: unsolicited Data-Out beyond FirstBurstLength 65536 (op ttt len offset)"
big=$(awk '$3 > 8192' "$TD/p1" | head -3)
assert_eq "" "$big" "1: PDU from lunaris above the target's MRDSL 8192 (op ttt len offset)"
no_errors "$P1" "1"

# --- 2. wire: R2Ts, every Data-Out <= 4096, nothing unsolicited, no immediate data
pdus "$P2" "tcp.srcport==$P2" >"$TD/p2t"
pdus "$P2" "tcp.dstport==$P2" >"$TD/p2"
n_r2t=$(awk '$1=="0x31"' "$TD/p2t" | wc -l)
n_do=$(awk '$1=="0x05"' "$TD/p2" | wc -l)
log "2: $n_r2t R2Ts, $n_do Data-Out PDUs"
[ "$n_r2t" -ge 128 ] || fail "2: expected >= 128 R2Ts (8 MiB, MaxBurstLength 64 KiB), got $n_r2t"
[ "$n_do" -ge 2048 ] || fail "2: expected >= 2048 Data-Out PDUs (8 MiB / 4096), got $n_do"
big=$(awk '$3 > 4096' "$TD/p2" | head -3)
assert_eq "" "$big" "2: PDU from lunaris above the target's MRDSL 4096 (op ttt len offset)"
assert_eq 0 "$(awk '$1=="0x05" && $2=="0xffffffff"' "$TD/p2" | wc -l)" \
    "2: unsolicited Data-Out with InitialR2T=Yes"
assert_eq 0 "$(awk '$1=="0x01" && $3 > 0' "$TD/p2" | wc -l)" \
    "2: SCSI Commands with immediate data although ImmediateData=No"
no_errors "$P2" "2"

# --- 3. wire: nothing from lunaris above 512 bytes of data; Data-In within our MRDSL
pdus "$P3" "tcp.dstport==$P3" >"$TD/p3"
big=$(awk '$3 > 512' "$TD/p3" | head -3)
assert_eq "" "$big" "3: PDU from lunaris above the target's MRDSL 512 (op ttt len offset)"
ours=$(tsh "$P3" -Y "tcp.dstport==$P3 && iscsi.opcode==0x03" -T fields -e iscsi.keyvalue |
    tr ',' '\n' | sed -n 's/^MaxRecvDataSegmentLength=//p' | tail -1)
[ -n "$ours" ] || fail "3: lunaris declared no MaxRecvDataSegmentLength"
pdus "$P3" "tcp.srcport==$P3" >"$TD/p3t"
n_di=$(awk '$1=="0x25"' "$TD/p3t" | wc -l)
log "3: lunaris declared MRDSL $ours; $n_di Data-In PDUs"
big=$(awk -v m="$ours" '$1=="0x25" && $3 > m' "$TD/p3t" | head -3)
assert_eq "" "$big" "3: Data-In above our declared MRDSL $ours"
no_errors "$P3" "3"

# --- 4. NOP-In from the target every second; lunaris must answer
T4=$PFX:nop
tgtd_start n
tgtd_target n 1 "$T4"
tgtd_lun n 1 1 null
tparam n 1 nop_interval=1 nop_count=3
shown=$(tadm n --lld iscsi --mode target --op show --tid 1)
assert_contains "$shown" "nop_interval=1" "4: nop_interval set"
assert_contains "$shown" "nop_count=3" "4: nop_count set"
lun perf "iscsi://127.0.0.1:$TGTD_PORT/$T4/1" --seconds 4 --qd 4 --stats
assert_rc 0 "$LUN_RC" "4: perf with target NOP-Ins"
st=$(grep '^stats:' <<<"$LUN_ERR" | tr '\n' ' ')
[ -n "$st" ] || fail "4: no stats line: $(head -c 1000 <<<"$LUN_ERR")"
nops=$(grep -oE 'nop-in-answered [0-9]+' <<<"$st" | awk '{ print $2 }')
log "4: $st"
[ "${nops:-0}" -ge 2 ] || fail "4: nop-in-answered ${nops:-?} < 2: $st"
assert_match "$st" "logins 1 " "4: one login, the session stayed up"
# tgtd drops the connection after nop_count unanswered NOP-Ins: no reconnect
for k in reconnects connection-failures; do
    v=$(grep -oE "$k [0-9]+" <<<"$st" | awk '{ print $2 }')
    [ -z "$v" ] || assert_eq 0 "$v" "4: $k during perf with target NOP-Ins"
done

# --- 5. SendTargets response far beyond 8192 bytes: 150 targets with long
# names (24000 bytes; lunaris declares MRDSL 262144, so tgtd sends it in one
# PDU), then 1100 targets with 117/222-char names (276850 bytes): tgtd splits
# it into two Text Responses and lunaris must ask for the rest (Text Request
# with the target's TTT).  libiscsi's iscsi-ls cannot do the latter ("unsupported
# flags in text reply"), so it is only the reference for the 150.
need iscsi-ls python3
tgtd_start d
PD=$TGTD_PORT
mk_targets() {   # mk_targets FROM TO PADLEN -> targets, names appended to $TD/want
    local i name pad
    pad=$(printf "x%.0s" $(seq "$3"))
    for ((i = $1; i <= $2; i++)); do
        printf -v name '%s:%s-long-target-name-%04d' "$PFX" "$pad" "$i"
        tgtd_target d "$i" "$name"
        echo "$name" >>"$TD/want"
    done
    log "5: targets $1..$2 have names of ${#name} chars"
}
discover_set() {   # discover_set OUTFILE -> lunaris discover, sorted target names
    lun_ok discover "127.0.0.1:$PD"
    grep -oE "$PFX:[A-Za-z0-9.:-]+" "$TD/lun.out" | sort -u >"$1"
}
json_count() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if isinstance(d, dict):
    d = next(v for v in d.values() if isinstance(v, list))
print(len(d))' "$1" || fail "5: --json output is not JSON: $(head -c 300 "$1")"
}
: >"$TD/want"
mk_targets 1 150 70
sort -o "$TD/want" "$TD/want"
discover_set "$TD/got"
assert_eq 150 "$(wc -l <"$TD/got")" "5: targets listed by lunaris discover (150)"
cmp -s "$TD/want" "$TD/got" || fail "5: discover set differs: $(diff "$TD/want" "$TD/got" | head -5)"
lis iscsi-ls "iscsi://127.0.0.1:$PD" >"$TD/ls.txt" 2>&1 || fail "5: iscsi-ls failed: $(head -5 "$TD/ls.txt")"
grep -oE "$PFX:[A-Za-z0-9.:-]+" "$TD/ls.txt" | sort -u >"$TD/ls"
cmp -s "$TD/ls" "$TD/got" || fail "5: lunaris vs iscsi-ls differ: $(diff "$TD/ls" "$TD/got" | head -5)"
lun_ok discover --json "127.0.0.1:$PD"
assert_eq 150 "$(json_count "$TD/lun.out")" "5: discover --json entries (150)"

mk_targets 151 1100 175
sort -o "$TD/want" "$TD/want"
cap_start "$TD/cap5.pcap" "$PD"
discover_set "$TD/got"
lun_ok discover --json "127.0.0.1:$PD"
cp "$TD/lun.out" "$TD/disc.json"
cap_stop
assert_eq 1100 "$(wc -l <"$TD/got")" "5: targets listed by lunaris discover (1100)"
cmp -s "$TD/want" "$TD/got" || fail "5: discover set differs: $(diff "$TD/want" "$TD/got" | head -5)"
assert_eq 1100 "$(json_count "$TD/disc.json")" "5: discover --json entries (1100)"
# tshark does not dissect the 262144-byte Text Response: read the BHS of
# every target segment that starts with opcode 0x24 (the names hold no '$').
# Observed: tgtd sends F=0 C=0 TTT 1 and cuts a TargetName in the middle
# (no C bit, unlike RFC 7143 10.11.2); lunaris must join the two.
tsh "$PD" -Y "tcp.srcport==$PD && tcp.payload[0]==0x24" -T fields -e tcp.payload |
    awk '{ print substr($1, 3, 2), substr($1, 11, 6), substr($1, 41, 8) }' >"$TD/p5t"
pdus "$PD" "tcp.dstport==$PD" >"$TD/p5"
n_more=$(awk '$1 != "80" && $3 != "ffffffff"' "$TD/p5t" | wc -l)
n_last=$(awk '$1 == "80" && $3 == "ffffffff"' "$TD/p5t" | wc -l)
n_req=$(awk '$1=="0x04" && $2!="0xffffffff"' "$TD/p5" | wc -l)
log "5: Text Responses (flags dsl ttt): $(sort "$TD/p5t" | uniq -c | tr -s ' \n' ' ')"
assert_eq 2 "$n_more" "5: non-final Text Responses (one per discovery)"
assert_eq 2 "$n_last" "5: final Text Responses (one per discovery)"
assert_eq 2 "$n_req" "5: Text Requests from lunaris continuing the target's TTT"
no_errors "$PD" "5"

pass
