#!/usr/bin/env bash
# t_fuse: the FUSE export of lunarisd, <run-dir>/dsk/<name>, driven by
# ordinary programs against a tgtd target.
#   - one regular file per LU: size, mode 0600, owner, st_blksize
#   - dd (O_DIRECT and buffered) in, the tgtd backing file equals the source;
#     cmp of the FUSE file against the backing file (page cache reads)
#   - unaligned writes (read-modify-write) and reads, O_DSYNC writes,
#     several writers at once; fio: 16 unaligned O_DIRECT writes in flight,
#     verified
#   - qemu-img info; losetup -r (when loop devices work here)
#   - fallocate --punch-hole -> UNMAP (thin-provisioned LUN: zeroes in the
#     backing file; a LUN without thin provisioning: a clear error),
#     fallocate --zero-range -> WRITE SAME
#   - users count while open; O_TRUNC ignored; truncate refused
#   - kill -9 of the daemon leaves a dead mount: the next start detaches it;
#     a clean stop unmounts, also with a file open
#   - all paths gone: open of the (remembered) name fails with ENXIO after
#     open-timeout with the opener recorded; I/O on an open file fails with
#     EIO after no-path-timeout
# Skips (77) only when /dev/fuse is unusable here.
# shellcheck disable=SC2016,SC2015,SC2317  # wait_until conditions are eval'd later
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
[ -c /dev/fuse ] && [ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not usable"
grep -qw fuse /proc/filesystems || skip "no fuse in /proc/filesystems"
need qemu-img fallocate cmp dd "$PY"
export LUNARIS_RUN_DIR=$TD/run
RUN=$LUNARIS_RUN_DIR
T1=iqn.2024-01.test.lunaris:fuse1

DPID=

tgtd_start a
tgtd_target a 1 "$T1"
tgtd_lun a 1 1 "$TD/a/lun1.img" 64
tadm a --lld iscsi --mode logicalunit --op update --tid 1 --lun 1 \
    --params thin_provisioning=1 || fail "tgtadm: thin_provisioning"
tgtd_lun a 1 2 "$TD/a/lun2.img" 8

devices() { "$LUNARIS" list target -S 2>/dev/null | grep -c "Device Name: c0t"; }

daemon_start
grep -q " $RUN/dsk fuse" /proc/mounts || fail "no FUSE mount on $RUN/dsk: $(cat "$TD/lunarisd.log")"
lun_ok add discovery-address "127.0.0.1:$TGTD_PORT"
# LUN 0 (the controller) and LUNs 1, 2
wait_until 10 eval '[ "$(devices)" -ge 3 ]' || fail "no LUNs: $("$LUNARIS" list target -S 2>&1)"
lun_ok list target -vS --json
read -r N1 N2 < <(JSON=$LUN_OUT "$PY" -c '
import json, os
s = json.loads(os.environ["JSON"])[0]["sessions"][0]
luns = {l["lun"]: l["name"] for l in s["luns"]}
print(luns[1], luns[2])')
F1=$RUN/dsk/$N1
F2=$RUN/dsk/$N2
log "LUN 1 = $N1, LUN 2 = $N2"

# --- the files
ls=$(ls "$RUN/dsk")
assert_contains "$ls" "$N1"
assert_contains "$ls" "$N2"
assert_eq "67108864 8180 0 0 512" "$(stat -c '%s %f %u %g %o' "$F1")" "size mode uid gid blksize of $N1"
assert_eq 8388608 "$(stat -c %s "$F2")" "size of $N2"
[ -e "$RUN/dsk/c0tFFFFd0" ] && fail "a name that is no LU exists"

# --- dd in with O_DIRECT (and O_TRUNC, which a device ignores), compare
rand_file "$TD/src" $((64 << 20))
dd if="$TD/src" of="$F1" bs=1M oflag=direct conv=fsync status=none || fail "dd oflag=direct"
assert_file_eq "$TD/src" "$TD/a/lun1.img" "backing file after dd oflag=direct"
assert_eq 67108864 "$(stat -c %s "$F1")" "size after an O_TRUNC open"
# cmp reads through the page cache (read-ahead, several READs in flight)
assert_file_eq "$F1" "$TD/a/lun1.img" "cmp of the FUSE file"

# --- buffered dd (write-through), 4 writers at once on separate ranges
rand_file "$TD/src2" $((16 << 20))
pids=()
for i in 0 1 2 3; do
    dd if="$TD/src2" of="$F1" bs=1M skip=$((i * 4)) seek=$((i * 4)) count=4 \
        conv=notrunc status=none &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "buffered writer $p failed"; done
extract "$TD/a/lun1.img" 0 $((16 << 20)) "$TD/got2"
assert_file_eq "$TD/src2" "$TD/got2" "4 buffered writers"
dd if="$TD/src2" of="$F1" bs=64K seek=$((32 << 4)) conv=notrunc,fsync oflag=dsync status=none ||
    fail "dd oflag=dsync"
extract "$TD/a/lun1.img" $((32 << 20)) $((16 << 20)) "$TD/got3"
assert_file_eq "$TD/src2" "$TD/got3" "O_DSYNC writes"

# --- unaligned: a 5-byte write inside a block, one across two blocks, and
# reads at odd offsets (buffered and O_DIRECT)
printf hello | dd of="$F1" bs=1 seek=1000003 conv=notrunc status=none || fail "5-byte write"
head -c 1000 /dev/urandom >"$TD/odd"
dd if="$TD/odd" of="$F1" bs=1000 seek=1 conv=notrunc status=none || fail "1000 bytes at 1000"
"$PY" - "$F1" "$TD/a/lun1.img" "$TD/odd" <<'EOF' || fail "unaligned I/O"
import mmap, os, sys
f, backing, odd = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
b = open(backing, "rb").read()
assert b[1000003:1000008] == b"hello", b[1000000:1000010]
assert b[1000:2000] == odd
# O_DIRECT write at an unaligned offset and length from an aligned buffer
fd = os.open(f, os.O_RDWR | os.O_DIRECT)
m = mmap.mmap(-1, 4096)
m[:] = os.urandom(4096)
n = os.pwritev(fd, [memoryview(m)[:777]], 3 * 4096 + 5)
assert n == 777, n
os.close(fd)
b = open(backing, "rb").read()
assert b[3 * 4096 + 5:3 * 4096 + 782] == m[:777], "O_DIRECT unaligned write"
# reads at odd places: buffered, and O_DIRECT into an aligned buffer
fd = os.open(f, os.O_RDONLY)
for off, ln in ((1, 1), (511, 2), (1000001, 9), (4095, 8193), (64 * 2**20 - 3, 100)):
    got = os.pread(fd, ln, off)
    assert got == b[off:off + ln], (off, ln)
os.close(fd)
fd = os.open(f, os.O_RDONLY | os.O_DIRECT)
m = mmap.mmap(-1, 1 << 20)
n = os.preadv(fd, [m], 12345)
assert n == 1 << 20 and m[:] == b[12345:12345 + (1 << 20)], "O_DIRECT unaligned read"
os.close(fd)
EOF
# concurrent unaligned O_DIRECT writes (libaio, 16 in flight, 1000-byte
# blocks sharing 512-byte sectors): without the ordering of read-modify-
# writes, neighbours overwrite each other's bytes and the verify fails
if command -v fio >/dev/null 2>&1; then
    timeout 120 fio --name=rmw --filename="$F1" --ioengine=libaio --direct=1 --bs=1000 \
        --iodepth=16 --rw=write --offset=20M --size=2000000 --fallocate=none \
        --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
        --output="$TD/fio.out" ||
        fail "fio unaligned writes: $(grep -m3 -E 'verify|err' "$TD/fio.out")"
    assert_contains "$(cat "$TD/fio.out")" "err= 0"
else
    log "no fio: concurrent unaligned writes not tested"
fi
assert_file_eq "$F1" "$TD/a/lun1.img" "cmp after unaligned writes"

# --- the LU counts the open file as a user while it is open
exec 3<"$F1"
lun_ok list lu --json "$N1"
assert_contains "$LUN_OUT" '"users": 1'
exec 3<&-
wait_until 5 eval '"$LUNARIS" list lu --json "$N1" | grep -q "\"users\": 0"' ||
    fail "still a user after close: $("$LUNARIS" list lu --json "$N1")"

# --- what a device does not do
truncate -s 1M "$F1" 2>"$TD/err" && fail "truncate of a device file succeeded"
assert_contains "$(cat "$TD/err")" "Invalid argument"
chmod 0644 "$F1" 2>/dev/null && fail "chmod succeeded"
dd if=/dev/zero of="$F2" bs=1M seek=8 count=1 conv=notrunc status=none 2>"$TD/err" &&
    fail "a write past the end succeeded"
assert_contains "$(cat "$TD/err")" "No space left on device"

# --- qemu-img
qi=$(timeout 30 qemu-img info -f raw "$F1" 2>&1) || fail "qemu-img info: $qi"
assert_contains "$qi" "virtual size: 64 MiB (67108864 bytes)"
qi=$(timeout 30 qemu-img info "$F1" 2>&1) || fail "qemu-img info (probing): $qi"
assert_contains "$qi" "file format: raw"
timeout 60 qemu-img convert -f raw -O raw "$F2" "$TD/conv.img" || fail "qemu-img convert from the file"
assert_file_eq "$TD/a/lun2.img" "$TD/conv.img" "qemu-img convert"

# --- losetup (loop devices may be missing in a container)
if loop=$(losetup --find --show -r "$F1" 2>"$TD/err"); then
    ok=0
    timeout 60 cmp "$loop" "$TD/a/lun1.img" && ok=1
    losetup -d "$loop"
    [ "$ok" = 1 ] || fail "cmp through $loop differs"
    log "losetup: $loop read back equal"
else
    log "losetup not usable here, step skipped: $(cat "$TD/err")"
fi

# --- fallocate: punch hole = UNMAP (tgtd thin_provisioning=1 punches its file)
fallocate --punch-hole --keep-size -o 4MiB -l 1MiB "$F1" || fail "punch hole"
extract "$TD/a/lun1.img" $((4 << 20)) $((1 << 20)) "$TD/hole"
cmp -s "$TD/hole" <(head -c 1M /dev/zero) || fail "punched range is not zero in the backing file"
cmp -s <(head -c 4M "$TD/a/lun1.img") <(head -c 4M "$F1") || fail "data before the hole changed"
cmp -s "$F1" "$TD/a/lun1.img" || fail "FUSE file and backing file differ after the punch"
# zero range = WRITE SAME
fallocate --zero-range --keep-size -o 8MiB -l 1MiB "$F1" || fail "zero range"
extract "$TD/a/lun1.img" $((8 << 20)) $((1 << 20)) "$TD/zr"
cmp -s "$TD/zr" <(head -c 1M /dev/zero) || fail "zeroed range is not zero in the backing file"
# unaligned ranges and other modes are refused
fallocate --punch-hole --keep-size -o 100 -l 1MiB "$F1" 2>"$TD/err" && fail "unaligned punch succeeded"
assert_contains "$(cat "$TD/err")" "Invalid argument"
fallocate -o 0 -l 1MiB "$F1" 2>"$TD/err" && fail "fallocate mode 0 succeeded"
assert_contains "$(cat "$TD/err")" "Operation not supported"
# LUN 2 has no thin provisioning: tgtd refuses UNMAP (ILLEGAL REQUEST,
# INVALID COMMAND OPERATION CODE), which the file reports as EOPNOTSUPP
# (util-linux words EOPNOTSUPP with --keep-size as "keep size mode is unsupported")
fallocate --punch-hole --keep-size -o 0 -l 1MiB "$F2" 2>"$TD/err" && fail "UNMAP on a thick LUN succeeded"
assert_match "$(cat "$TD/err")" "unsupported|not supported"
grep -qE "fuse: $N2 trim .*(ILLEGAL REQUEST|INVALID|invalid)" "$TD/lunarisd.log" ||
    fail "no clear trim error in the log: $(grep 'fuse:' "$TD/lunarisd.log" | tail -5)"

# --- kill -9: the next start detaches the dead mount
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
# (statfs: stat(2) may still be answered from cached attributes)
stat -f "$RUN/dsk" >/dev/null 2>"$TD/err" && fail "the mount of a killed daemon still answers"
assert_contains "$(cat "$TD/err")" "Transport endpoint is not connected"
daemon_start
wait_until 5 eval 'ls "$RUN/dsk" >/dev/null 2>&1' || fail "dsk unusable after restart"
assert_contains "$(cat "$TD/lunarisd.log")" "detached a dead FUSE mount on $RUN/dsk"
assert_eq 1 "$(grep -c " $RUN/dsk " /proc/mounts)" "mounts on dsk after restart"
# the sessions come back from the store, and with them the files
wait_until 15 eval '[ -e "$F1" ]' || fail "$N1 did not come back: $(ls "$RUN/dsk")"
assert_file_eq "$F1" "$TD/a/lun1.img" "cmp after the restart"

# --- a clean stop unmounts, even with a file open and reading
exec 5<"$F1"
head -c 1M <&5 >/dev/null || fail "read through fd 5"
stop_pid "$DPID" 10
DPID=
grep -q " $RUN/dsk " /proc/mounts && fail "still mounted after lunarisd stopped"
# (far from what read-ahead brought into the page cache)
"$PY" -c 'import os; os.pread(5, 4096, 60 << 20)' 2>"$TD/err" && fail "read after the stop succeeded"
assert_match "$(cat "$TD/err")" "not connected|Input/output error"
exec 5<&-

# --- all paths gone
daemon_start
wait_until 15 eval '[ -e "$F1" ]' || fail "$N1 did not come back: $(ls "$RUN/dsk")"
lun_ok modify initiator-node --tunable-param open-timeout=2,no-path-timeout=3
exec 4<"$F1"
tgtd_kill9 a
wait_until 30 eval '"$LUNARIS" list lu --json "$N1" | grep -q "\"state\": \"offline\""' ||
    fail "LU not offline: $("$LUNARIS" list lu --json "$N1")"
assert_contains "$(ls "$RUN/dsk")" "$N1" "an offline name is still listed"
assert_eq 67108864 "$(stat -c %s "$F1")" "size of an offline name"
t0=$(now)
cat "$F1" >/dev/null 2>"$TD/err" && fail "open of an offline LU succeeded"
t=$(elapsed "$t0")
assert_contains "$(cat "$TD/err")" "No such device or address"
in_range "$t" 1.5 8 || fail "ENXIO after $t s, open-timeout is 2 s"
lun_ok show lu "$N1"
assert_match "$LUN_OUT" "Last Opened: .* by open by pid [0-9]+ \(cat\)"
log "open of an offline name: ENXIO after $t s"
# the file opened before the outage: I/O fails after no-path-timeout (the
# kernel retries a failed read-ahead with a single page: twice 3 s)
t0=$(now)
timeout 40 "$PY" -c 'import os; os.pread(4, 4096, 40 << 20)' 2>"$TD/err" &&
    fail "read with no path succeeded"
t=$(elapsed "$t0")
exec 4<&-
assert_contains "$(cat "$TD/err")" "Input/output error"
in_range "$t" 2.5 10 || fail "EIO after $t s, no-path-timeout is 3 s"
grep -q "no path could serve the request within 3 s" "$TD/lunarisd.log" ||
    fail "no clear error in the log: $(grep 'fuse:' "$TD/lunarisd.log" | tail -3)"
log "I/O without a path: EIO after $t s"
stop_pid "$DPID" 10
DPID=
grep -q " $RUN/dsk " /proc/mounts && fail "still mounted after lunarisd stopped"

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
