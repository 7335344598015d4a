# tests/integration/lib.sh - harness for lunaris integration tests (bash).
#
# Source it from a t_<name>.sh script:   . "$(dirname "$0")/lib.sh"
#
#  - $TD: a per-test temp dir under /tmp (short: tgtd's control socket lives
#    there), removed on exit.  Everything started through this file is
#    recorded by PID and stopped in the EXIT trap, also when a test fails.
#  - $LUNARIS: binary under test (default /work/main/build/lunaris;
#    scripts/test sets build/asan/lunaris).  Run it through `lun`, which
#    captures stdout/stderr/rc and fails the test on sanitizer reports.
#  - exit 0 = pass, 77 = skip (a required tool is missing), else fail.
#  - Daemons are never started inside $( ): their PID would belong to a
#    subshell.  Start functions set variables instead.

# shellcheck disable=SC2034,SC2015  # variables are used by the sourcing tests
set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
LUNARIS=${LUNARIS:-$ROOT/build/lunaris}
TGTD=${TGTD:-/usr/sbin/tgtd}
TGTADM=${TGTADM:-/usr/sbin/tgtadm}
ISTGT=${ISTGT:-/usr/sbin/istgt}
LIBISCSI_TIMEOUT=${LIBISCSI_TIMEOUT:-20}
# A leak or UB report must make lunaris fail loudly; we also grep stderr.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TEST_NAME=$(basename "$0" .sh)
TEST_START=$(date +%s.%N)
_PIDS=()          # everything we started, stopped in reverse order on exit
_TGTD_DIRS=()     # tgtd instances (need the tgtadm shutdown dance)

# ---------------------------------------------------------------- messages

log()  { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
fail() {
    printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}
skip() {
    printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*" >&2
    echo "SKIP: $*"
    exit 77
}
pass() {
    local t
    t=$(awk -v a="$TEST_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    echo "[$TEST_NAME] PASS (${t}s)"
    exit 0
}

need() {   # need TOOL... -> skip if a tool is missing
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || skip "missing tool: $t"
    done
}

# ---------------------------------------------------------------- temp dir, cleanup

TD=$(mktemp -d /tmp/lt.XXXXXX) || { echo "mktemp failed" >&2; exit 1; }

stop_pid() {   # stop_pid PID [GRACE_S=3]: TERM, wait, KILL; only that PID
    local pid=$1 grace=${2:-3} i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for ((i = 0; i < grace * 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
        sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null &&
       [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

_cleanup() {
    local rc=$? i d
    trap - EXIT INT TERM
    for d in "${_TGTD_DIRS[@]}"; do tgtd_stop "$d"; done
    for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${_PIDS[$i]}" 2; done
    # a lunarisd killed, or stopped too slowly, leaves its FUSE mount
    # (<run-dir>/dsk) behind: detach whatever is mounted under $TD
    awk -v td="$TD/" 'index($2, td) == 1 { print $2 }' /proc/mounts 2>/dev/null |
        while read -r d; do umount -l "$d" 2>/dev/null; done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "${KEEP_TD:-}" ]; then
        echo "[$TEST_NAME] keeping $TD" >&2
    else
        rm -rf "$TD"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports

free_port() {   # free_port -> echo a TCP port in 20000-29999 free on 127.0.0.1
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 10000))
        # skip ports already handed out to this test
        [[ " ${_PORTS_USED:-} " == *" $p "* ]] && continue
        if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q . &&
           ! ss -Hltn "sport = :$((p + 1))" 2>/dev/null | grep -q .; then
            _PORTS_USED="${_PORTS_USED:-} $p $((p + 1))"
            echo "$p"
            return 0
        fi
    done
    return 1
}

wait_listen() {   # wait_listen PORT [TIMEOUT_S=5] [PID]: ss-based, no probe connection
    local port=$1 t=${2:-5} pid=${3:-} i
    for ((i = 0; i < t * 50; i++)); do
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
        sleep 0.02
    done
    return 1
}

# ---------------------------------------------------------------- assertions

assert_eq() {   # assert_eq EXPECTED ACTUAL [MSG]
    [ "$1" == "$2" ] || fail "${3:-values differ}: expected [$1], got [$2]"
}
assert_ne() {
    [ "$1" != "$2" ] || fail "${3:-values equal}: both [$1]"
}
assert_contains() {   # assert_contains HAYSTACK NEEDLE [MSG]  (fixed string)
    grep -qF -- "$2" <<<"$1" || fail "${3:-missing text}: [$2] not in: $(head -c 2000 <<<"$1")"
}
assert_not_contains() {
    ! grep -qF -- "$2" <<<"$1" || fail "${3:-unexpected text}: [$2] found in: $(head -c 2000 <<<"$1")"
}
assert_match() {   # assert_match HAYSTACK ERE [MSG]  (case-insensitive)
    grep -qiE -- "$2" <<<"$1" || fail "${3:-no match}: /$2/ not in: $(head -c 2000 <<<"$1")"
}
assert_rc() {   # assert_rc EXPECTED ACTUAL [MSG]
    [ "$1" -eq "$2" ] || fail "${3:-exit code}: expected rc $1, got $2${LUN_ERR:+; stderr: $(head -c 1500 <<<"$LUN_ERR")}"
}
assert_file_eq() {   # assert_file_eq A B [MSG]
    cmp -s "$1" "$2" || fail "${3:-files differ}: $1 vs $2 ($(cmp "$1" "$2" 2>&1 | head -1))"
}

# ---------------------------------------------------------------- running lunaris

# lun ARGS...  -> runs $LUNARIS, sets LUN_OUT, LUN_ERR, LUN_RC (never fails
# by itself on rc, but fails the test on any sanitizer report).  Stdin is
# /dev/null unless LUN_STDIN names a file.  Raw outputs are kept in
# $TD/lun.out / $TD/lun.err (binary-safe).  Runs under `timeout`.
LUN_TIMEOUT=${LUN_TIMEOUT:-50}
lun() {
    local in=${LUN_STDIN:-/dev/null}
    timeout -k 5 "$LUN_TIMEOUT" "$LUNARIS" "$@" <"$in" >"$TD/lun.out" 2>"$TD/lun.err"
    LUN_RC=$?
    LUN_OUT=$(tr -d '\0' <"$TD/lun.out")
    LUN_ERR=$(cat "$TD/lun.err")
    check_sanitizer "$TD/lun.err" "lunaris $*"
    [ "$LUN_RC" -eq 124 ] && fail "lunaris timed out after ${LUN_TIMEOUT}s: lunaris $*"
    return 0
}

check_sanitizer() {   # check_sanitizer STDERR_FILE CONTEXT
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' "$1"; then
        echo "---- sanitizer report ($2):" >&2
        head -60 "$1" >&2
        fail "sanitizer report from: $2"
    fi
}

lun_ok() {   # lun_ok ARGS... -> lun, and fail unless rc 0
    lun "$@"
    [ "$LUN_RC" -eq 0 ] || fail "lunaris $* -> rc $LUN_RC; stderr: $(head -c 1500 <<<"$LUN_ERR")"
}

# libiscsi tools, always under timeout (iscsi-ls hangs against istgt)
lis() {   # lis TOOL ARGS... -> stdout; rc of the tool
    timeout -k 2 "$LIBISCSI_TIMEOUT" "$@"
}

# ---------------------------------------------------------------- tgtd

# tgtd_start NAME [--debug] -> starts tgtd in $TD/NAME on a free port.
# Sets TGTD_PORT and TGTD_PID (also $TD/NAME/{port,pid}).
tgtd_start() {
    local name=$1 debug="" i pid port d
    [ "${2:-}" = --debug ] && debug="-d 1"
    d=$TD/$name
    mkdir -p "$d"
    for i in 1 2 3; do
        port=$(free_port) || fail "no free port"
        # shellcheck disable=SC2086
        TGT_IPC_SOCKET="$d/tgtd.sock" "$TGTD" -f $debug -C 0 \
            --iscsi "portal=127.0.0.1:$port" >"$d/tgtd.log" 2>&1 &
        pid=$!
        _PIDS+=("$pid")
        echo "$pid" >"$d/pid"
        echo "$port" >"$d/port"
        _TGTD_DIRS+=("$d")
        if tgtd_wait "$d" 5 "$pid" && ss -Hltn "sport = :$port" | grep -q .; then
            TGTD_PID=$pid
            TGTD_PORT=$port
            return 0
        fi
        log "tgtd on port $port did not come up (try $i):"
        cat "$d/tgtd.log" >&2
        stop_pid "$pid" 1
    done
    fail "tgtd did not start"
}

tadm() {   # tadm NAME ARGS... -> tgtadm for instance NAME
    local d=$TD/$1; shift
    TGT_IPC_SOCKET="$d/tgtd.sock" "$TGTADM" -C 0 "$@"
}

_tadm_dir() { local d=$1; shift; TGT_IPC_SOCKET="$d/tgtd.sock" "$TGTADM" -C 0 "$@"; }

tgtd_wait() {   # tgtd_wait DIR TIMEOUT_S PID: poll the control socket
    local d=$1 t=$2 pid=$3 i
    for ((i = 0; i < t * 50; i++)); do
        _tadm_dir "$d" --mode sys --op show >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# tgtd_target NAME TID IQN -> new target with ACL ALL
tgtd_target() {
    tadm "$1" --lld iscsi --mode target --op new --tid "$2" --targetname "$3" &&
    tadm "$1" --lld iscsi --mode target --op bind --tid "$2" --initiator-address ALL ||
        fail "tgtadm: target $3 (tid $2) setup failed"
}

# tgtd_lun NAME TID LUN BACKING [SIZE_MB] [BLOCKSIZE]
#   BACKING: a file path (truncated to SIZE_MB when given) or "null".
tgtd_lun() {
    local n=$1 tid=$2 lun=$3 b=$4 size=${5:-} bs=${6:-} extra=()
    [ -n "$bs" ] && extra=(--blocksize "$bs")
    if [ "$b" = null ]; then
        tadm "$n" --lld iscsi --mode logicalunit --op new --tid "$tid" --lun "$lun" \
            --backing-store /dev/null --bstype null "${extra[@]}" ||
            fail "tgtadm: null LUN $lun failed"
    else
        [ -n "$size" ] && truncate -s "${size}M" "$b"
        tadm "$n" --lld iscsi --mode logicalunit --op new --tid "$tid" --lun "$lun" \
            --backing-store "$b" --bstype rdwr "${extra[@]}" ||
            fail "tgtadm: LUN $lun on $b failed"
    fi
}

tgtd_lun_params() {   # tgtd_lun_params NAME TID LUN PARAMS (scsi_id=..,scsi_sn=..)
    tadm "$1" --lld iscsi --mode logicalunit --op update --tid "$2" --lun "$3" \
        --params "$4" || fail "tgtadm: update params $4 failed"
}

# tgtd_chap NAME TID USER SECRET [--outgoing]
tgtd_chap() {
    local n=$1 tid=$2 u=$3 s=$4 out=${5:-}
    tadm "$n" --lld iscsi --mode account --op new --user "$u" --password "$s" >/dev/null &&
    tadm "$n" --lld iscsi --mode account --op bind --tid "$tid" --user "$u" ${out:+"$out"} ||
        fail "tgtadm: CHAP account $u failed"
}

tgtd_digests() {   # tgtd_digests NAME TID [VALUE=CRC32C]
    local v=${3:-CRC32C}
    tadm "$1" --lld iscsi --mode target --op update --tid "$2" --name HeaderDigest --value "$v" &&
    tadm "$1" --lld iscsi --mode target --op update --tid "$2" --name DataDigest --value "$v" ||
        fail "tgtadm: digests failed"
}

# tgtd_quick NAME IQN SIZE_MB -> tgtd + tid 1 + LUN 1 file $TD/NAME/lun1.img
tgtd_quick() {
    tgtd_start "$1"
    tgtd_target "$1" 1 "$2"
    tgtd_lun "$1" 1 1 "$TD/$1/lun1.img" "$3"
}

tgtd_stop() {   # tgtd_stop DIR: delete targets, sys delete, then kill -9 after grace
    local d=$1 pid tid i
    pid=$(cat "$d/pid" 2>/dev/null) || return 0
    if kill -0 "$pid" 2>/dev/null; then
        for tid in $(_tadm_dir "$d" --lld iscsi --mode target --op show 2>/dev/null |
                     sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
            _tadm_dir "$d" --lld iscsi --mode target --op delete --force --tid "$tid" >/dev/null 2>&1
        done
        _tadm_dir "$d" --mode sys --op delete >/dev/null 2>&1
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
            sleep 0.02
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rm -f "$d/pid"
}

# ---------------------------------------------------------------- istgt

# istgt_start NAME TARGET SIZE_MB -> istgt in $TD/NAME, target
# iqn.2024-01.test.istgt:TARGET with LUN 0 on $TD/NAME/TARGET.img.
# Sets ISTGT_PORT, ISTGT_PID, ISTGT_IQN.  (istgt also listens on PORT+1.)
istgt_start() {
    local n=$1 tname=$2 size=$3 d port pid
    d=$TD/$n
    mkdir -p "$d"
    port=$(free_port) || fail "no free port"
    truncate -s "${size}M" "$d/$tname.img"
    : >"$d/auth.conf"
    cat >"$d/istgt.conf" <<EOF
[Global]
  NodeBase "iqn.2024-01.test.istgt"
  PidFile $d/istgt.pid
  AuthFile $d/auth.conf
  MediaDirectory $d
  LogFacility "local7"
  Timeout 30
  NopInInterval 20
  DiscoveryAuthMethod None
  MaxSessions 16
  MaxConnections 4
  MaxR2T 32
  MaxOutstandingR2T 16
  FirstBurstLength 262144
  MaxBurstLength 1048576
  MaxRecvDataSegmentLength 262144
[UnitControl]
  AuthMethod None
  Portal UC1 127.0.0.1:$((port + 1))
  Netmask 127.0.0.1
[PortalGroup1]
  Portal DA1 127.0.0.1:$port
[InitiatorGroup1]
  InitiatorName "ALL"
  Netmask 127.0.0.0/8
[LogicalUnit1]
  TargetName $tname
  Mapping PortalGroup1 InitiatorGroup1
  AuthMethod None
  UseDigest Auto
  UnitType Disk
  LUN0 Storage $d/$tname.img Auto
EOF
    "$ISTGT" -D -c "$d/istgt.conf" -p "$d/istgt.pid" >"$d/istgt.log" 2>&1 &
    pid=$!
    _PIDS+=("$pid")
    wait_listen "$port" 5 "$pid" || { cat "$d/istgt.log" >&2; fail "istgt did not come up"; }
    ISTGT_PID=$pid
    ISTGT_PORT=$port
    ISTGT_IQN=iqn.2024-01.test.istgt:$tname
}

# ---------------------------------------------------------------- capture

# cap_start FILE PORT... -> dumpcap on lo into FILE; returns once packets are
# being written (sentinel UDP probes).  Sets CAP_PID.  One capture at a time.
cap_start() {
    local f=$1; shift
    local filt="" p
    for p in "$@"; do filt="${filt:+$filt or }tcp port $p"; done
    CAP_FILE=$f
    CAP_SENTINEL=$(free_port) || fail "no free port"
    rm -f "$f"
    dumpcap -i lo -B 64 -f "$filt or udp port $CAP_SENTINEL" -w "$f" -q \
        >"$f.log" 2>&1 &
    CAP_PID=$!
    _PIDS+=("$CAP_PID")
    _cap_sync || { cat "$f.log" >&2; fail "capture did not start"; }
}

_cap_sync() {   # send sentinel probes until the pcap grows
    local i s0 s
    s0=$(stat -c %s "$CAP_FILE" 2>/dev/null || echo 0)
    for ((i = 0; i < 400; i++)); do
        echo probe >"/dev/udp/127.0.0.1/$CAP_SENTINEL" 2>/dev/null
        s=$(stat -c %s "$CAP_FILE" 2>/dev/null || echo 0)
        if [ "$s0" -gt 0 ] && [ "$s" -gt "$s0" ]; then return 0; fi
        [ "$s0" -gt 0 ] || s0=$s
        kill -0 "$CAP_PID" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

cap_stop() {   # flush (sentinel) and stop the capture
    _cap_sync || log "warning: capture flush probe not seen"
    stop_pid "$CAP_PID" 5
}

# tsh PORT ARGS... -> tshark on $CAP_FILE decoding PORT as iSCSI
tsh() {
    local port=$1; shift
    timeout 60 tshark -r "$CAP_FILE" -d "tcp.port==$port,iscsi" "$@" 2>/dev/null
}

# ---------------------------------------------------------------- misc

rand_file() {   # rand_file PATH BYTES
    head -c "$2" /dev/urandom >"$1" || fail "cannot create $1"
}

# extract BACKING OFFSET LENGTH OUT -> copy LENGTH bytes at OFFSET
extract() {
    dd if="$1" of="$4" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none ||
        fail "dd extract failed"
}

sum() { sha256sum "$1" | cut -d' ' -f1; }

# ================================================================ fault proxy
# (tests/integration/faultproxy.py: TCP relay with a control socket; see the
# docstring there for the commands and the log format.)

PY=${PY:-/usr/bin/python3}
FAULTPROXY=$LIB_DIR/faultproxy.py

# proxy_start TPORT [NAME=proxy] -> relay 127.0.0.1:PROXY_PORT -> 127.0.0.1:TPORT.
# Sets PROXY_PORT, PROXY_PID, PROXY_CTL (control socket), PROXY_LOG (event
# log); returns once listening and answering on the control socket.
proxy_start() {
    local tport=$1 name=${2:-proxy} i port pid
    [ -x "$PY" ] || skip "missing tool: $PY"
    for i in 1 2 3; do
        port=$(free_port) || fail "no free port"
        PROXY_CTL=$TD/$name.ctl
        PROXY_LOG=$TD/$name.log
        "$PY" "$FAULTPROXY" --listen "$port" --target "$tport" \
            --control "$PROXY_CTL" --log "$PROXY_LOG" 2>>"$TD/$name.err" &
        pid=$!
        _PIDS+=("$pid")
        if wait_listen "$port" 5 "$pid" && proxy_cmd stats >/dev/null; then
            PROXY_PORT=$port
            PROXY_PID=$pid
            return 0
        fi
        log "proxy on port $port did not come up (try $i):"
        cat "$TD/$name.err" "$PROXY_LOG" >&2 2>/dev/null
        stop_pid "$pid" 1
    done
    fail "fault proxy did not start"
}

# proxy_cmd CMD -> send one command to the proxy, print its one-line answer;
# rc 0 unless the answer is "error ..." or the channel failed.
proxy_cmd() {
    "$PY" "$FAULTPROXY" --control "$PROXY_CTL" --send "$*"
}

proxy_do() {   # proxy_do CMD -> proxy_cmd, fail the test on an error answer
    local a
    a=$(proxy_cmd "$@") || fail "proxy command '$*' failed: $a"
    log "proxy: $* -> $a"
}

# proxy_stat KEY -> the value of KEY= in the stats answer
proxy_stat() {
    proxy_cmd stats | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# proxy_times EVENT -> the monotonic timestamps of EVENT lines in the log
proxy_times() {
    awk -v e="$1" '$3 == e { print $1 }' "$PROXY_LOG"
}

# daemon_start: this test's lunarisd, state in $TD/state, run dir
# $LUNARIS_RUN_DIR, in the foreground logging to $TD/lunarisd.log; DPID is
# its pid; returns when it answers on its control socket.
daemon_start() {
    "${LUNARISD:-$(dirname "$LUNARIS")/lunarisd}" -f --state-dir "$TD/state" \
        --run-dir "${LUNARIS_RUN_DIR:?set LUNARIS_RUN_DIR first}" 2>>"$TD/lunarisd.log" &
    DPID=$!
    _PIDS+=("$DPID")
    wait_until 5 "$LUNARIS" list discovery >/dev/null 2>&1 || fail "lunarisd does not answer"
}

now() { date +%s.%N; }
elapsed() {   # elapsed START [END=now] -> seconds, 2 decimals
    awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'
}
in_range() {   # in_range X LO HI -> rc 0 if LO <= X <= HI
    awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

# lun_bg ARGS... -> start $LUNARIS in the background (under timeout), stdout
# to $TD/bg.out, stderr to $TD/bg.err.  Sets LUN_BG_PID.  Collect with lun_wait.
lun_bg() {
    local in=${LUN_STDIN:-/dev/null}
    timeout -k 5 "$LUN_TIMEOUT" "$LUNARIS" "$@" <"$in" >"$TD/bg.out" 2>"$TD/bg.err" &
    LUN_BG_PID=$!
    _PIDS+=("$LUN_BG_PID")
    LUN_BG_ARGS="$*"
}

# lun_wait -> wait for the lun_bg command; sets LUN_RC, LUN_ERR, LUN_OUT like lun
lun_wait() {
    wait "$LUN_BG_PID"
    LUN_RC=$?
    LUN_OUT=$(tr -d '\0' <"$TD/bg.out")
    if [ "$(stat -c %s "$TD/bg.err")" -gt $((8 << 20)) ]; then   # a busy loop tracing
        fail "lunaris $LUN_BG_ARGS (rc $LUN_RC): stderr flooded, $(stat -c %s "$TD/bg.err") bytes; most repeated: $(cut -c1-300 "$TD/bg.err" | sort | uniq -c | sort -rn | head -2)"
    fi
    LUN_ERR=$(cat "$TD/bg.err")
    check_sanitizer "$TD/bg.err" "lunaris $LUN_BG_ARGS"
    [ "$LUN_RC" -eq 124 ] && fail "lunaris timed out after ${LUN_TIMEOUT}s: lunaris $LUN_BG_ARGS"
    return 0
}

# wait_until TIMEOUT_S CMD... -> poll CMD every 20 ms until it succeeds
wait_until() {
    local t=$1 i; shift
    for ((i = 0; i < t * 50; i++)); do
        "$@" && return 0
        sleep 0.02
    done
    return 1
}

# ---------------------------------------------------------------- recovery traces

# assert_recovery_trace TEXT [MSG] -> TEXT (a --trace stderr) shows, in this
# order: logged_in -> failed, then failed|polling -> in_login, then
# in_login T5 -> logged_in.
assert_recovery_trace() {
    awk 'st == 0 && / logged_in T[0-9]+ -> failed/ { st = 1; next }
         st == 1 && / (failed|polling) T[0-9]+ -> in_login/ { st = 2; next }
         st == 2 && / in_login T5 -> logged_in/ { st = 3 }
         END { exit st != 3 }' <<<"$1" ||
        fail "${2:-recovery trace}: no logged_in -> failed -> in_login -> logged_in in: $(grep '^trace:' <<<"$1" | head -c 3000)"
}

# wait_err_count FILE ERE N TIMEOUT_S -> wait until FILE has >= N lines
# matching ERE (lunaris writes stderr unbuffered, so the moment the line
# appears is the moment of the event, to the 20 ms poll)
wait_err_count() {
    local f=$1 re=$2 n=$3 t=$4 i
    for ((i = 0; i < t * 50; i++)); do
        [ "$(grep -cE -- "$re" "$f" 2>/dev/null)" -ge "$n" ] && return 0
        sleep 0.02
    done
    return 1
}

# lun_bg_running -> rc 0 while the lun_bg command runs
lun_bg_running() {
    kill -0 "$LUN_BG_PID" 2>/dev/null &&
        [ "$(awk '{print $3}' "/proc/$LUN_BG_PID/stat" 2>/dev/null)" != Z ]
}

# ---------------------------------------------------------------- tgtd crash

# tgtd_kill9 NAME -> kill -9 the tgtd instance NAME (no clean shutdown)
tgtd_kill9() {
    local d=$TD/$1 pid
    pid=$(cat "$d/pid" 2>/dev/null) || fail "tgtd $1 has no pid"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# tgtd_restart NAME -> start tgtd NAME again on its old port (after
# tgtd_kill9), same control socket dir; the caller re-creates targets/LUNs.
tgtd_restart() {
    local name=$1 d=$TD/$1 port pid i
    port=$(cat "$d/port")
    for ((i = 0; i < 100; i++)); do
        ss -Hltn "sport = :$port" | grep -q . || break
        sleep 0.02
    done
    TGT_IPC_SOCKET="$d/tgtd.sock" "$TGTD" -f -C 0 \
        --iscsi "portal=127.0.0.1:$port" >>"$d/tgtd.log" 2>&1 &
    pid=$!
    _PIDS+=("$pid")
    echo "$pid" >"$d/pid"
    tgtd_wait "$d" 5 "$pid" && wait_listen "$port" 5 "$pid" ||
        { cat "$d/tgtd.log" >&2; fail "tgtd $name did not restart on port $port"; }
    TGTD_PID=$pid
    TGTD_PORT=$port
}

msgs() { grep -vE '^(trace|stats): ' <<<"$1"; }   # msgs TEXT -> stderr without trace/stats lines
