#!/usr/bin/env bash
# t_nbd: lunarisd's NBD export (<run-dir>/nbd.sock), driven by real clients.
#   - nbdinfo --list names the LU; nbdinfo shows its size, block sizes and
#     flags
#   - qemu-img convert from the export equals the target's backing file
#   - nbdcopy of a random file into the export: the backing file equals it
#   - nbdpoke.py: write zeroes, trim, flush, FUA, refused requests with their
#     messages, 64 requests in flight, simple replies, NBD_OPT_EXPORT_NAME,
#     handshake errors
#   - three readers at once while a writer is killed mid-copy and another
#     client leaves with 31 requests in flight: the readers get the data,
#     the daemon finishes what was in flight and serves on
#   - garbage after the handshake (and during it): the client is cut off,
#     the daemon keeps serving; the log names the client's pid and command
# Run it under the ASan build: the zombie clients (gone with I/O in flight)
# are what it watches.
# (A cached-but-offline name is the device-cache test's.)
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need nbdinfo nbdcopy qemu-img socat
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
[ -x "$PY" ] || skip "missing tool: $PY"
export LUNARIS_RUN_DIR=$TD/run
SOCK=$LUNARIS_RUN_DIR/nbd.sock
POKE=$LIB_DIR/nbdpoke.py
T1=iqn.2024-01.test.lunaris:nbd1
SIZE=$((64 << 20))

tgtd_start a
tgtd_target a 1 "$T1"
BACKING=$TD/a/lun1.img
rand_file "$BACKING" "$SIZE"
cp "$BACKING" "$TD/orig.img"
tgtd_lun a 1 1 "$BACKING"

DPID=
daemon_start() {
    "$LUNARISD" -f --state-dir "$TD/state" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
    DPID=$!
    _PIDS+=("$DPID")
    wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 ||
        fail "lunarisd does not answer: $(cat "$TD/lunarisd.log")"
}
alive() { kill -0 "$DPID" 2>/dev/null || fail "lunarisd died: $(tail -30 "$TD/lunarisd.log")"; }

daemon_start
[ -S "$SOCK" ] || fail "no $SOCK"
assert_eq 660 "$(stat -c %a "$SOCK")" "mode of nbd.sock"
lun_ok add discovery-address "127.0.0.1:$TGTD_PORT"
wait_until 15 eval '"$LUNARIS" list target -S 2>/dev/null | grep -q "Type: DIRECT_ACCESS"' ||
    fail "no LU: $("$LUNARIS" list target -vS 2>&1)"
lun_ok list target -S
# the disk's name (LUN 0 is tgtd's controller, which is not exported)
NAME=$(awk '/Type: DIRECT_ACCESS/ { d = 1 } d && /Device Name: c0t/ { print $3; exit }' <<<"$LUN_OUT")
[ -n "$NAME" ] || fail "no device name in: $LUN_OUT"
log "LU $NAME"
URI="nbd+unix:///$NAME?socket=$SOCK"

# --- listing and info
out=$(timeout 30 nbdinfo --list "nbd+unix:///?socket=$SOCK" 2>&1) || fail "nbdinfo --list: $out"
assert_contains "$out" "export=\"$NAME\""
assert_contains "$out" "description: IET VIRTUAL-DISK, $SIZE bytes, online"
out=$(timeout 30 nbdinfo "$URI" 2>&1) || fail "nbdinfo: $out"
assert_contains "$out" "export-size: $SIZE"
assert_match "$out" "block_size_minimum: 512"
assert_match "$out" "block_size_preferred: 4096"
assert_match "$out" "block_size_maximum: [1-9][0-9]*"
for f in can_flush can_fua can_trim can_zero can_multi_conn; do
    assert_match "$out" "$f: true"
done
assert_contains "$out" "is_read_only: false"
assert_contains "$out" "protocol: newstyle-fixed"
out=$(timeout 30 qemu-img info "$URI" 2>&1) || fail "qemu-img info: $out"
assert_contains "$out" "virtual size: 64 MiB ($SIZE bytes)"

# --- read everything with qemu-img
t0=$(now)
timeout 60 qemu-img convert -f raw -O raw "$URI" "$TD/out.img" 2>"$TD/qemu.err" ||
    fail "qemu-img convert: $(cat "$TD/qemu.err")"
log "qemu-img convert of 64 MiB: $(elapsed "$t0") s"
assert_file_eq "$BACKING" "$TD/out.img" "qemu-img convert vs backing file"

# --- write everything with nbdcopy
rand_file "$TD/src.img" "$SIZE"
t0=$(now)
timeout 60 nbdcopy "$TD/src.img" "$URI" 2>"$TD/nbdcopy.err" ||
    fail "nbdcopy into the export: $(cat "$TD/nbdcopy.err")"
dt=$(elapsed "$t0")
log "nbdcopy of 64 MiB into the export: $dt s ($(awk -v t="$dt" 'BEGIN { printf "%.0f", 64 / (t > 0 ? t : 0.01) }') MB/s)"
assert_file_eq "$TD/src.img" "$BACKING" "backing file after nbdcopy"
# and back out with nbdcopy (several connections: multi-conn)
timeout 60 nbdcopy "$URI" "$TD/back.img" 2>"$TD/nbdcopy.err" ||
    fail "nbdcopy from the export: $(cat "$TD/nbdcopy.err")"
assert_file_eq "$TD/src.img" "$TD/back.img" "nbdcopy from the export"

# --- what the real clients do not send
"$PY" "$POKE" "$SOCK" "$NAME" ops "$BACKING" >"$TD/poke.out" 2>&1 ||
    fail "nbdpoke ops: $(cat "$TD/poke.out")"
log "nbdpoke ops: $(grep -c '^ok' "$TD/poke.out") checks"
"$PY" "$POKE" "$SOCK" "$NAME" hs-checks >"$TD/poke.out" 2>&1 ||
    fail "nbdpoke hs-checks: $(cat "$TD/poke.out")"
alive

# --- several clients at once; one killed with requests in flight (it
# writes what is there already, so the readers' view does not change)
cp "$BACKING" "$TD/now.img"
pids=()
for i in 1 2 3; do
    timeout 60 nbdcopy "$URI" "$TD/par$i.img" 2>"$TD/par$i.err" &
    pids+=($!)
    _PIDS+=($!)
done
timeout 60 nbdcopy "$TD/now.img" "$URI" 2>/dev/null &
victim=$!
_PIDS+=("$victim")
sleep 0.05
{ kill -9 "$victim"; wait "$victim"; } 2>/dev/null
"$PY" "$POKE" "$SOCK" "$NAME" abandon "$BACKING" >"$TD/poke.out" 2>&1 ||
    fail "nbdpoke abandon: $(cat "$TD/poke.out")"
for i in 1 2 3; do
    wait "${pids[$((i - 1))]}" || fail "parallel nbdcopy $i: $(cat "$TD/par$i.err")"
    assert_file_eq "$TD/now.img" "$TD/par$i.img" "parallel nbdcopy $i"
done
alive
assert_file_eq "$TD/now.img" "$BACKING" "backing file after the killed writer"

# --- garbage: the client is cut off, the daemon serves on
"$PY" "$POKE" "$SOCK" "$NAME" garbage >"$TD/poke.out" 2>&1 ||
    fail "nbdpoke garbage: $(cat "$TD/poke.out")"
"$PY" "$POKE" "$SOCK" "$NAME" hs-garbage >"$TD/poke.out" 2>&1 ||
    fail "nbdpoke hs-garbage: $(cat "$TD/poke.out")"
head -c 100000 /dev/urandom | timeout 10 socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null
alive
out=$(timeout 30 nbdinfo "$URI" 2>&1) || fail "nbdinfo after garbage: $out"
assert_contains "$out" "export-size: $SIZE"
timeout 60 nbdcopy "$URI" "$TD/back2.img" 2>"$TD/nbdcopy.err" ||
    fail "nbdcopy after garbage: $(cat "$TD/nbdcopy.err")"
cmp -s "$BACKING" "$TD/back2.img" || fail "export differs from the backing file after garbage"
assert_match "$(cat "$TD/lunarisd.log")" "nbd by pid [0-9]+ \(nbdcopy\) opened $NAME"
assert_match "$(cat "$TD/lunarisd.log")" "nbd by pid [0-9]+ \(python3?\): request magic"

# --- a clean stop removes the socket
stop_pid "$DPID" 10
[ -e "$SOCK" ] && fail "nbd.sock left behind"
check_sanitizer "$TD/lunarisd.log" lunarisd
grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
