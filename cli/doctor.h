/*
 * doctor.h - floor 6: `lunaris doctor`, a client-side analysis of what
 * lunarisd already reports (its history, sessions, discovery, negative
 * cache, portal counters and device cache).
 *
 * Split like admin.c / admin_run.c: doctor.c is pure (JSON in, JSON out, no
 * socket, no clock), so that the unit test and the fuzzer drive exactly the
 * analysis the command runs; doctor_run.c fetches the replies and prints.
 */
#ifndef LUNARIS_DOCTOR_H
#define LUNARIS_DOCTOR_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/*
 * The daemon's replies (each its "result"), as members of one object:
 *   "trace"             list trace
 *   "target"            list target -v
 *   "discovery-address" list discovery-address -v
 *   "isns-server"       list isns-server -v
 *   "negative-cache"    list negative-cache
 *   "portal-stats"      list portal-stats
 *   "lu"                list lu -v
 *   "initiator-node"    list initiator-node
 * Missing members and members of the wrong type count as empty: the
 * analysis says what it can from what it got.  `now` is the current unix
 * time (the history's window ends there).
 *
 * Returns {"healthy": bool, "findings": [{"severity" ("error", "warning" or
 * "note"), "kind", "summary", "evidence": [strings], "fix": [commands]}]},
 * most important first; "healthy" is false when any finding is an error or
 * a warning.  NULL only when out of memory.
 */
json_t *doctor_analyze(const json_t *replies, long long now);

/* The plain-words report, printed from doctor_analyze's JSON: a summary
 * line, then each finding with its evidence and "Fix: <command>" lines. */
void doctor_print(const json_t *report, FILE *out);

/* The exit code a report means: 0 healthy, 1 something needs attention. */
int doctor_exit_code(const json_t *report);

#endif
