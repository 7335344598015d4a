#!/usr/bin/env bash
# t_alua: ALUA states from REPORT TARGET PORT GROUPS, through lunarisd.
#   istgt reports TPGS 0 in INQUIRY yet answers REPORT TARGET PORT GROUPS
#   (one group, active/optimized, preferred; mpx/alua.c's tests hold the
#   bytes): lunarisd logs in, and `list lu -v --json` shows that state and
#   group for the path, its PREF bit as the path's preference;
#   `list lu -v` prints it, and `list target -vS` still works.  tgtd rejects
#   the command (t_mpath: its paths stay active/optimized, no ALUA).
set -u
# shellcheck disable=SC2016  # wait_until conditions are eval'd later
. "$(dirname "$0")/lib.sh"
need "$ISTGT"
LUNARISD=${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}
[ -x "$LUNARISD" ] || fail "no lunarisd next to $LUNARIS"
export LUNARIS_RUN_DIR=$TD/run

istgt_start i disk1 32
P=$ISTGT_PORT
T=$ISTGT_IQN

"$LUNARISD" -f --state-dir "$TD/state" --run-dir "$LUNARIS_RUN_DIR" 2>>"$TD/lunarisd.log" &
_PIDS+=("$!")
wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
lun_ok modify discovery --sendtargets disable
lun_ok add static-config "$T,127.0.0.1:$P"
lu_json() { "$LUNARIS" list lu -v --json 2>/dev/null; }
online_paths() {
    lu_json | "$PY" -c 'import json,sys; l=json.load(sys.stdin); print(sum(p["state"]=="online" for x in l for p in x["paths"]) if len(l)==1 else -1)'
}
# every istgt login takes ~1 s
wait_until 20 eval '[ "$(online_paths)" = 1 ]' || fail "one LU with one online path expected: $("$LUNARIS" list lu -v 2>&1)"

read -r alua tpg pref < <(lu_json | "$PY" -c '
import json,sys
p = json.load(sys.stdin)[0]["paths"][0]
print(p["alua"].replace(" ", "_"), p["tpg"], p["preferred"])')
log "istgt path: ALUA $alua, target port group $tpg, preferred $pref"
assert_eq active/optimized "$alua" "ALUA state from REPORT TARGET PORT GROUPS"
assert_eq 1 "$tpg" "target port group of the path"
assert_eq True "$pref" "PREF bit of istgt's group"

lun_ok list lu -v
assert_contains "$LUN_OUT" "ALUA State: active/optimized (target port group 1)"
assert_contains "$LUN_OUT" "Preferred: yes"
assert_contains "$LUN_OUT" "Failback: enabled"

lun_ok list target -vS
assert_contains "$LUN_OUT" "$T"
log "list target -vS: $(grep -c . <<<"$LUN_OUT") lines"

# I/O through the NBD export still works on the ALUA path
if command -v nbdcopy >/dev/null; then
    N=$(lu_json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')
    rand_file "$TD/src" $((1 << 20))
    nbdcopy "$TD/src" "nbd+unix:///$N?socket=$LUNARIS_RUN_DIR/nbd.sock" || fail "nbdcopy to istgt failed"
    extract "$TD/i/disk1.img" 0 $((1 << 20)) "$TD/back"
    assert_file_eq "$TD/src" "$TD/back" "1 MiB through NBD to istgt"
fi

grep -iE 'sanitizer|runtime error' "$TD/lunarisd.log" && fail "sanitizer report in the daemon log"
pass
