#!/usr/bin/env bash
# t_store_crash: the store acknowledges a change only once it is durable.
# store_crash adds one static config per transaction and prints "ack <i>"
# after each commit; we kill -9 it at a random moment (10-200 ms) and reopen
# the file: it must pass PRAGMA integrity_check and hold every acked row
# (at most one more: a commit that finished before its ack was printed).
# Then the same for the device cache: store_crash --lu upserts logical units
# with their paths (an add, then a refresh that must keep the older paths),
# one transaction each, and --check-lu finds every acked step's rows.
# STORE_CRASH names another helper binary (a private build directory).
. "$(dirname "$0")/lib.sh"

BIN=${STORE_CRASH:-$ROOT/build/store_crash}
if [ ! -x "$BIN" ]; then
    need cc
    BIN=$TD/store_crash
    (cd "$ROOT" && cc -std=c11 -D_GNU_SOURCE -Istore -Ilib -o "$BIN" \
        tests/store_crash.c store/store.c lib/util.c -lsqlite3 -lpthread) ||
        fail "cannot build store_crash"
fi

N=10000000   # far more than fits in 200 ms: the kill always lands mid-way
# run N: static configs; run luN: device cache upserts
for run in 1 2 3 4 5 lu1 lu2 lu3 lu4 lu5; do
    db=$TD/crash$run.db
    out=$TD/crash$run.out
    err=$TD/crash$run.err
    mode=() check=--check what="static configs"
    if [[ $run == lu* ]]; then
        mode=(--lu) check=--check-lu what="LU upserts"
    fi
    "$BIN" "${mode[@]}" "$db" "$N" >"$out" 2>"$err" &
    pid=$!
    _PIDS+=("$pid")
    ms=$((10 + RANDOM % 191))
    sleep "$(printf '0.%03d' "$ms")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    [ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] ||
        fail "run $run: store_crash exited $rc before the kill: $(head -c 1000 "$err")"
    last=$(awk '$1 == "ack" && $2 ~ /^[0-9]+$/ { n = $2 } END { print (n == "" ? -1 : n) }' "$out")
    count=$("$BIN" "$check" "$db" 2>"$TD/check$run.err") ||
        fail "run $run: store does not check out after kill -9 at ${ms} ms:" \
            "$(head -c 1000 "$TD/check$run.err")"
    [[ "$count" =~ ^[0-9]+$ ]] || fail "run $run: checker printed [$count]"
    [ "$count" -ge $((last + 1)) ] ||
        fail "run $run: $count $what after kill -9, but step $last was acknowledged"
    [ "$count" -le $((last + 2)) ] ||
        fail "run $run: $count $what, more than acked ($((last + 1))) plus one in flight"
    assert_eq 600 "$(stat -c %a "$db")" "run $run: database mode"
    log "run $run: killed at ${ms} ms after $((last + 1)) acks; $count $what survived"
done
pass
