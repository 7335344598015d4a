/*
 * policy.h - floor 4: which path of a logical unit serves the next
 * command.  Pure functions over a small array of path descriptors that the
 * caller owns and keeps current; the only state is the selector's memory
 * of the path it chose last.
 *
 * Every policy first narrows the paths to the best usable class (ALUA
 * aware), then to the preferred paths of that class when there are any,
 * and only then spreads:
 *
 *   class 0  online, active/optimized (also: no ALUA at all)
 *   class 1  online, active/non-optimized or logical block dependent
 *   class 2  online but transitioning, or a standby path (path state)
 *   class 3  ALUA standby or unavailable, or a reserved state: commands
 *            will likely fail there, but an error beats "no path"
 *   never    offline or failed paths, and ALUA offline
 *
 *   none           failover only: keep the path used last while it stays in
 *                  the best class (with failback, while it is also
 *                  preferred); else the first candidate
 *   round-robin    the next candidate after the path used last
 *   logical-block  region = LBA / region size; candidate region % count,
 *                  so one region always goes to one path (Solaris lb);
 *                  commands without an LBA go round-robin
 *   least-queue    the candidate with the fewest outstanding commands; ties
 *                  go to the first after the path used last
 */
#ifndef LUNARIS_POLICY_H
#define LUNARIS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alua.h"

enum lun_path_state {
	LUN_PATH_ONLINE = 0,
	LUN_PATH_STANDBY = 1,
	LUN_PATH_OFFLINE = 2,
	LUN_PATH_FAILED = 3,
};
const char *lun_path_state_str(uint8_t state); /* "online", ..., "unknown" */
int lun_path_state_parse(const char *s); /* -1 when unknown */

struct lun_mpx_path {
	uint8_t state; /* enum lun_path_state */
	uint8_t alua; /* enum lun_alua_state; active/optimized without ALUA */
	bool preferred; /* ALUA PREF bit, or the administrator's choice */
	uint32_t outstanding; /* commands in flight on this path now */
	/* statistics kept by the caller; selection does not read them */
	uint64_t ios, bytes, errors;
};

enum lun_mpx_policy {
	LUN_MPX_NONE = 0,
	LUN_MPX_ROUND_ROBIN = 1,
	LUN_MPX_LOGICAL_BLOCK = 2,
	LUN_MPX_LEAST_QUEUE = 3,
};
const char *lun_mpx_policy_str(int policy); /* "none", "round-robin", ... */
int lun_mpx_policy_parse(const char *s); /* -1 when unknown */

/* Solaris's default region-size 18: 2^18 blocks (128 MiB of 512-byte
 * blocks) per region. */
#define LUN_MPX_REGION_DEFAULT (UINT32_C(1) << 18)
/* lba for commands that address no block (SYNCHRONIZE CACHE of the whole
 * LU, TEST UNIT READY). */
#define LUN_MPX_NO_LBA UINT64_MAX
/* Paths per LU a selector considers; the rest are ignored. */
#define LUN_MPX_MAX_PATHS 64

struct lun_mpx_sel {
	int policy; /* enum lun_mpx_policy */
	uint32_t region_blocks; /* logical-block: blocks per region, >= 1 */
	bool failback; /* none: go back to a preferred path when it can serve */
	int last; /* the path chosen last, -1 for none yet */
};

/* Defaults: the policy given, LUN_MPX_REGION_DEFAULT, failback on (Solaris
 * auto-failback="enable"), no path chosen yet. */
void lun_mpx_sel_init(struct lun_mpx_sel *s, int policy);

/* The class of a path as above: 0 (best) to 3, or -1 when it must not be
 * used. */
int lun_mpx_path_class(const struct lun_mpx_path *p);

/*
 * The path for a command starting at `lba` (LUN_MPX_NO_LBA when none), or
 * -1 when no path can serve (every one offline or failed).  Records the
 * choice in s->last.  An unknown policy behaves as none.
 */
int lun_mpx_select(struct lun_mpx_sel *s, const struct lun_mpx_path *paths, size_t n,
		   uint64_t lba);

#endif
