/*
 * fuzz_policy.c - path selection over arbitrary path arrays and command
 * sequences.  Input: byte 0 policy and flags, byte 1 path count, 4 bytes
 * per path (state, ALUA state, preferred, outstanding), then 8 bytes of LBA
 * per selection.  Invariants beyond "no crash": the choice is a usable path
 * (or -1 exactly when there is none), in the best class present, preferred
 * when the best class has a preferred path; least-queue picks a shortest
 * queue among those; logical-block gives every LBA of a region the same
 * path while the paths do not change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_mpx_path p[LUN_MPX_MAX_PATHS + 4];
	struct lun_mpx_sel s;
	size_t n, i, off;
	int best = -1, c;
	bool best_pref = false;

	if (size < 2)
		return 0;
	lun_mpx_sel_init(&s, data[0] % 5); /* 4: unknown, behaves as none */
	s.failback = (data[0] & 0x08) != 0;
	s.region_blocks = (data[0] & 0x10) ? 1u + data[0] : LUN_MPX_REGION_DEFAULT;
	n = data[1] % (LUN_MPX_MAX_PATHS + 4);
	if (size < 2 + 4 * n)
		return 0;
	memset(p, 0, sizeof(p));
	for (i = 0; i < n; i++) {
		const uint8_t *q = data + 2 + 4 * i;

		p[i].state = q[0] % 6; /* includes two invalid states */
		p[i].alua = q[1] & 0x0f;
		p[i].preferred = q[2] & 1;
		p[i].outstanding = q[3];
	}
	for (i = 0; i < n && i < LUN_MPX_MAX_PATHS; i++) {
		c = lun_mpx_path_class(&p[i]);
		if (c >= 0 && (best < 0 || c < best))
			best = c;
	}
	for (i = 0; i < n && i < LUN_MPX_MAX_PATHS; i++)
		if (lun_mpx_path_class(&p[i]) == best && p[i].preferred)
			best_pref = true;
	for (off = 2 + 4 * n; off + 8 <= size; off += 8) {
		uint64_t lba = lun_get_be64(data + off);
		int k = lun_mpx_select(&s, p, n, lba), again;

		if (best < 0) {
			fz_check(k == -1);
			continue;
		}
		fz_check(k >= 0 && (size_t)k < n && k < LUN_MPX_MAX_PATHS);
		fz_check(s.last == k);
		fz_check(lun_mpx_path_class(&p[k]) == best);
		if (best_pref && s.policy != LUN_MPX_NONE && s.policy <= LUN_MPX_LEAST_QUEUE)
			fz_check(p[k].preferred);
		if (s.policy == LUN_MPX_LEAST_QUEUE)
			for (i = 0; i < n && i < LUN_MPX_MAX_PATHS; i++)
				if (lun_mpx_path_class(&p[i]) == best &&
				    (p[i].preferred || !best_pref))
					fz_check(p[i].outstanding >= p[k].outstanding);
		if (s.policy == LUN_MPX_LOGICAL_BLOCK && lba != LUN_MPX_NO_LBA) {
			uint64_t region = lba / s.region_blocks;

			again = lun_mpx_select(&s, p, n, region * s.region_blocks);
			fz_check(again == k);
		}
		p[k].outstanding++;
	}
	return 0;
}
