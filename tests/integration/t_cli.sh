#!/usr/bin/env bash
# t_cli: usage handling of the lunaris CLI (no target needed).
. "$(dirname "$0")/lib.sh"

lun --help
assert_rc 0 "$LUN_RC" "--help"
for c in discover luns read write perf; do
    assert_match "$LUN_OUT" "^ *$c " "--help mentions $c"
done
assert_contains "$LUN_OUT" "Exit codes" "--help documents exit codes"
lun -h
assert_rc 0 "$LUN_RC" "-h"

lun
assert_rc 1 "$LUN_RC" "no arguments"
assert_match "$LUN_ERR" "usage:" "no arguments prints usage"

lun frobnicate
assert_rc 1 "$LUN_RC" "unknown subcommand"
assert_match "$LUN_ERR" "frobnicate|usage" "unknown subcommand message"

lun --no-such-option discover 127.0.0.1:1
assert_rc 1 "$LUN_RC" "unknown option"
assert_match "$LUN_ERR" "no-such-option|unrecognized|usage" "unknown option message"

lun discover 127.0.0.1:1 --no-such-option
assert_rc 1 "$LUN_RC" "unknown option after subcommand"

lun --header-digest bogus discover 127.0.0.1:1
assert_rc 1 "$LUN_RC" "bad --header-digest value"
assert_contains "$LUN_ERR" "bogus" "bad digest value is named"

lun --offset xyz read iscsi://127.0.0.1:1/iqn.x:y/1 --length 512
assert_rc 1 "$LUN_RC" "bad --offset value"

# missing operands -> exit 1 with a usage line
for args in "discover" "luns" "read" "write" "perf" \
            "read iscsi://127.0.0.1:1/iqn.x:y/1 --offset 0" \
            "write iscsi://127.0.0.1:1/iqn.x:y/1"; do
    # shellcheck disable=SC2086
    lun $args
    assert_rc 1 "$LUN_RC" "lunaris $args (missing operand)"
    assert_match "$LUN_ERR" "usage" "lunaris $args prints a usage line"
done

# bad URLs -> exit 1 without touching the network
lun luns http://127.0.0.1/iqn.x:y
assert_rc 1 "$LUN_RC" "luns with non-iscsi URL"
lun read "iscsi://127.0.0.1:1/iqn.x:y" --offset 0 --length 512
assert_rc 1 "$LUN_RC" "read URL without LUN"

pass
