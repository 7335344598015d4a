/*
 * policy.c - floor 4: path selection (see policy.h for the rules).
 *
 * Called once per command, so it allocates nothing and walks the path
 * array at most three times; paths per LU are few (one per session and
 * portal), which makes a linear scan cheaper than any index.
 */
#include "policy.h"

#include <string.h>

const char *lun_path_state_str(uint8_t state)
{
	switch (state) {
	case LUN_PATH_ONLINE:
		return "online";
	case LUN_PATH_STANDBY:
		return "standby";
	case LUN_PATH_OFFLINE:
		return "offline";
	case LUN_PATH_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

int lun_path_state_parse(const char *s)
{
	static const char *const names[] = { "online", "standby", "offline", "failed" };
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static const char *const mpx_policy_names[] = {
	[LUN_MPX_NONE] = "none",
	[LUN_MPX_ROUND_ROBIN] = "round-robin",
	[LUN_MPX_LOGICAL_BLOCK] = "logical-block",
	[LUN_MPX_LEAST_QUEUE] = "least-queue",
};

const char *lun_mpx_policy_str(int policy)
{
	if (policy >= 0 && policy <= LUN_MPX_LEAST_QUEUE)
		return mpx_policy_names[policy];
	return "unknown";
}

int lun_mpx_policy_parse(const char *s)
{
	int i;

	for (i = 0; i <= LUN_MPX_LEAST_QUEUE; i++)
		if (strcmp(s, mpx_policy_names[i]) == 0)
			return i;
	return -1;
}

void lun_mpx_sel_init(struct lun_mpx_sel *s, int policy)
{
	s->policy = policy;
	s->region_blocks = LUN_MPX_REGION_DEFAULT;
	s->failback = true;
	s->last = -1;
}

int lun_mpx_path_class(const struct lun_mpx_path *p)
{
	if (p->state == LUN_PATH_OFFLINE || p->state == LUN_PATH_FAILED ||
	    p->state > LUN_PATH_FAILED || p->alua == LUN_ALUA_OFFLINE)
		return -1;
	switch (p->alua) {
	case LUN_ALUA_ACTIVE_OPTIMIZED:
		return p->state == LUN_PATH_ONLINE ? 0 : 2;
	case LUN_ALUA_ACTIVE_NONOPTIMIZED:
	case LUN_ALUA_LBA_DEPENDENT:
		return p->state == LUN_PATH_ONLINE ? 1 : 2;
	case LUN_ALUA_TRANSITIONING:
		/* Soon usable in some state; commands meanwhile get NOT
		 * READY, which the caller retries. */
		return 2;
	default:
		/* Standby, unavailable, and states this code does not know. */
		return 3;
	}
}

/* The candidates: indices of the paths in the best class, narrowed to its
 * preferred ones when it has any.  Returns their count. */
static size_t mpx_candidates(const struct lun_mpx_path *paths, size_t n, int cand[])
{
	int best = -1, c;
	bool any_pref = false;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		c = lun_mpx_path_class(&paths[i]);
		if (c >= 0 && (best < 0 || c < best))
			best = c;
	}
	if (best < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (lun_mpx_path_class(&paths[i]) == best && paths[i].preferred)
			any_pref = true;
	for (i = 0; i < n; i++)
		if (lun_mpx_path_class(&paths[i]) == best && (!any_pref || paths[i].preferred))
			cand[k++] = (int)i;
	return k;
}

/* The first candidate after `last` in index order, wrapping around. */
static int mpx_next_after(const int cand[], size_t k, int last)
{
	size_t i;

	for (i = 0; i < k; i++)
		if (cand[i] > last)
			return cand[i];
	return cand[0];
}

int lun_mpx_select(struct lun_mpx_sel *s, const struct lun_mpx_path *paths, size_t n,
		   uint64_t lba)
{
	int cand[LUN_MPX_MAX_PATHS];
	size_t k, i;
	int pick;

	if (n > LUN_MPX_MAX_PATHS)
		n = LUN_MPX_MAX_PATHS;
	k = mpx_candidates(paths, n, cand);
	if (k == 0) {
		s->last = -1;
		return -1;
	}
	switch (s->policy) {
	case LUN_MPX_ROUND_ROBIN:
		pick = mpx_next_after(cand, k, s->last);
		break;
	case LUN_MPX_LOGICAL_BLOCK:
		if (lba == LUN_MPX_NO_LBA) {
			pick = mpx_next_after(cand, k, s->last);
			break;
		}
		/* The same region keeps the same path while the candidate set
		 * does not change, so the target sees sequential I/O per
		 * region on one port and can cache and prefetch for it. */
		pick = cand[(lba / (s->region_blocks ? s->region_blocks : 1)) % k];
		break;
	case LUN_MPX_LEAST_QUEUE: {
		/* Start after the last pick so that equal queues take turns
		 * instead of all landing on the lowest index. */
		size_t start = 0;

		while (start < k && cand[start] <= s->last)
			start++;
		pick = cand[start % k];
		for (i = 1; i < k; i++) {
			int c = cand[(start + i) % k];

			if (paths[c].outstanding < paths[pick].outstanding)
				pick = c;
		}
		break;
	}
	default: {
		/* none: stay while the last path is still a candidate; without
		 * failback a non-preferred path of the best class also keeps
		 * its place (no switch back when the preferred one returns). */
		int last = s->last;

		pick = cand[0];
		if (last >= 0 && (size_t)last < n) {
			for (i = 0; i < k; i++)
				if (cand[i] == last)
					pick = last;
			if (pick != last && !s->failback &&
			    lun_mpx_path_class(&paths[last]) == lun_mpx_path_class(&paths[cand[0]]))
				pick = last;
		}
		break;
	}
	}
	s->last = pick;
	return pick;
}
