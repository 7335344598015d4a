/*
 * test_policy.c - path selection: the ALUA classes, and how each policy
 * spreads (or does not spread) commands over the paths, counted the way
 * the daemon's per-path counters will count them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define AO LUN_ALUA_ACTIVE_OPTIMIZED
#define ANO LUN_ALUA_ACTIVE_NONOPTIMIZED

static struct lun_mpx_path path(uint8_t state, uint8_t alua, bool preferred)
{
	return (struct lun_mpx_path){ .state = state, .alua = alua, .preferred = preferred };
}

/* Run `times` selections at consecutive LBAs `stride` apart; count per path. */
static void spread(struct lun_mpx_sel *s, struct lun_mpx_path *p, size_t n, int times,
		   uint64_t stride, unsigned counts[])
{
	int i;

	memset(counts, 0, n * sizeof(counts[0]));
	for (i = 0; i < times; i++) {
		int k = lun_mpx_select(s, p, n, (uint64_t)i * stride);

		assert_true(k >= 0 && (size_t)k < n);
		counts[k]++;
		p[k].ios++;
	}
}

static void test_classes(void **state)
{
	struct lun_mpx_path p;

	p = path(LUN_PATH_ONLINE, AO, false);
	assert_int_equal(lun_mpx_path_class(&p), 0);
	p = path(LUN_PATH_ONLINE, ANO, false);
	assert_int_equal(lun_mpx_path_class(&p), 1);
	p = path(LUN_PATH_ONLINE, LUN_ALUA_LBA_DEPENDENT, false);
	assert_int_equal(lun_mpx_path_class(&p), 1);
	p = path(LUN_PATH_ONLINE, LUN_ALUA_TRANSITIONING, false);
	assert_int_equal(lun_mpx_path_class(&p), 2);
	p = path(LUN_PATH_STANDBY, AO, false);
	assert_int_equal(lun_mpx_path_class(&p), 2);
	p = path(LUN_PATH_ONLINE, LUN_ALUA_STANDBY, false);
	assert_int_equal(lun_mpx_path_class(&p), 3);
	p = path(LUN_PATH_ONLINE, LUN_ALUA_UNAVAILABLE, false);
	assert_int_equal(lun_mpx_path_class(&p), 3);
	p = path(LUN_PATH_ONLINE, 0x7, false); /* reserved */
	assert_int_equal(lun_mpx_path_class(&p), 3);
	p = path(LUN_PATH_ONLINE, LUN_ALUA_OFFLINE, true);
	assert_int_equal(lun_mpx_path_class(&p), -1);
	p = path(LUN_PATH_OFFLINE, AO, true);
	assert_int_equal(lun_mpx_path_class(&p), -1);
	p = path(LUN_PATH_FAILED, AO, true);
	assert_int_equal(lun_mpx_path_class(&p), -1);
	p = path(9, AO, true);
	assert_int_equal(lun_mpx_path_class(&p), -1);
}

static void test_round_robin(void **state)
{
	struct lun_mpx_path p[3] = { path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[3];
	int i;

	lun_mpx_sel_init(&s, LUN_MPX_ROUND_ROBIN);
	for (i = 0; i < 6; i++)
		assert_int_equal(lun_mpx_select(&s, p, 3, 0), i % 3);
	spread(&s, p, 3, 300, 8, c);
	assert_int_equal(c[0], 100);
	assert_int_equal(c[1], 100);
	assert_int_equal(c[2], 100);
	/* a failed path drops out; the others share */
	p[1].state = LUN_PATH_FAILED;
	spread(&s, p, 3, 300, 8, c);
	assert_int_equal(c[0], 150);
	assert_int_equal(c[1], 0);
	assert_int_equal(c[2], 150);
	/* and comes back into the rotation */
	p[1].state = LUN_PATH_ONLINE;
	spread(&s, p, 3, 30, 8, c);
	assert_int_equal(c[1], 10);
}

/* ALUA: optimized paths only while there are any; then non-optimized. */
static void test_round_robin_alua(void **state)
{
	struct lun_mpx_path p[4] = { path(LUN_PATH_ONLINE, ANO, false),
				     path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, LUN_ALUA_STANDBY, false),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[4];

	lun_mpx_sel_init(&s, LUN_MPX_ROUND_ROBIN);
	spread(&s, p, 4, 100, 8, c);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 50);
	assert_int_equal(c[2], 0);
	assert_int_equal(c[3], 50);
	p[1].state = LUN_PATH_OFFLINE;
	p[3].alua = LUN_ALUA_TRANSITIONING;
	spread(&s, p, 4, 100, 8, c);
	assert_int_equal(c[0], 100); /* non-optimized beats transitioning and standby */
	p[0].state = LUN_PATH_FAILED;
	spread(&s, p, 4, 10, 8, c);
	assert_int_equal(c[3], 10); /* transitioning beats standby */
	p[3].state = LUN_PATH_FAILED;
	spread(&s, p, 4, 10, 8, c);
	assert_int_equal(c[2], 10); /* standby only when nothing else is left */
}

/* Within the best class, preferred paths take everything. */
static void test_preferred(void **state)
{
	struct lun_mpx_path p[3] = { path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, true),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[3];

	lun_mpx_sel_init(&s, LUN_MPX_ROUND_ROBIN);
	spread(&s, p, 3, 20, 8, c);
	assert_int_equal(c[1], 20);
	p[2].preferred = true;
	spread(&s, p, 3, 20, 8, c);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 10);
	assert_int_equal(c[2], 10);
	/* a preferred but non-optimized path loses to any optimized one */
	p[1].alua = ANO;
	p[2].alua = ANO;
	spread(&s, p, 3, 20, 8, c);
	assert_int_equal(c[0], 20);
}

/* none: failover only, with and without failback to the preferred path. */
static void test_none(void **state)
{
	struct lun_mpx_path p[3] = { path(LUN_PATH_ONLINE, AO, true),
				     path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[3];

	lun_mpx_sel_init(&s, LUN_MPX_NONE);
	spread(&s, p, 3, 50, 8, c);
	assert_int_equal(c[0], 50);
	p[0].state = LUN_PATH_FAILED;
	spread(&s, p, 3, 50, 8, c);
	assert_int_equal(c[1], 50); /* the first survivor, and it stays */
	p[0].state = LUN_PATH_ONLINE;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 0); /* failback */
	p[0].state = LUN_PATH_FAILED;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 1);
	s.failback = false;
	p[0].state = LUN_PATH_ONLINE;
	spread(&s, p, 3, 50, 8, c);
	assert_int_equal(c[1], 50); /* stays where it is */
	/* but never on a worse class than the best available */
	p[1].alua = ANO;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 0);
	/* without any preferred path there is nothing to fail back to */
	p[0].preferred = false;
	p[1].alua = AO;
	s.failback = true;
	s.last = 2;
	spread(&s, p, 3, 20, 8, c);
	assert_int_equal(c[2], 20);
}

/* logical-block: one region, one path; regions spread evenly. */
static void test_logical_block(void **state)
{
	struct lun_mpx_path p[2] = { path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[2];
	uint64_t lba;
	int first;

	lun_mpx_sel_init(&s, LUN_MPX_LOGICAL_BLOCK);
	assert_int_equal(s.region_blocks, 1u << 18);
	/* every LBA of the first default region: one path */
	first = lun_mpx_select(&s, p, 2, 0);
	for (lba = 0; lba < (1u << 18); lba += 4093)
		assert_int_equal(lun_mpx_select(&s, p, 2, lba), first);
	assert_int_equal(lun_mpx_select(&s, p, 2, (1u << 18) - 1), first);
	assert_int_not_equal(lun_mpx_select(&s, p, 2, 1u << 18), first);
	/* region size 1024 blocks: 8 I/Os per region, 64 regions */
	s.region_blocks = 1024;
	spread(&s, p, 2, 512, 128, c);
	assert_int_equal(c[0], 256);
	assert_int_equal(c[1], 256);
	for (lba = 0; lba < 1024; lba += 128)
		assert_int_equal(lun_mpx_select(&s, p, 2, 5 * 1024 + lba), 1);
	/* the same I/O pattern never changes path while the set is stable */
	assert_int_equal(lun_mpx_select(&s, p, 2, 4 * 1024), 0);
	assert_int_equal(lun_mpx_select(&s, p, 2, 4 * 1024), 0);
	/* commands without an LBA go round-robin */
	s.last = 0;
	assert_int_equal(lun_mpx_select(&s, p, 2, LUN_MPX_NO_LBA), 1);
	assert_int_equal(lun_mpx_select(&s, p, 2, LUN_MPX_NO_LBA), 0);
	/* a failed path's regions move to the survivor */
	p[1].state = LUN_PATH_FAILED;
	spread(&s, p, 2, 512, 128, c);
	assert_int_equal(c[0], 512);
	/* region size 0 is taken as 1 block */
	p[1].state = LUN_PATH_ONLINE;
	s.region_blocks = 0;
	assert_int_equal(lun_mpx_select(&s, p, 2, 7), 1);
}

/* least-queue: the shortest queue; equal queues take turns. */
static void test_least_queue(void **state)
{
	struct lun_mpx_path p[3] = { path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false),
				     path(LUN_PATH_ONLINE, AO, false) };
	struct lun_mpx_sel s;
	unsigned c[3];
	int i, k;

	lun_mpx_sel_init(&s, LUN_MPX_LEAST_QUEUE);
	p[0].outstanding = 5;
	p[1].outstanding = 2;
	p[2].outstanding = 9;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 1);
	/* equal queues: round-robin, not always the first */
	p[0].outstanding = p[1].outstanding = p[2].outstanding = 3;
	s.last = -1;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 0);
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 1);
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 2);
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 0);
	/* a slow path (completes one command in four) gets less work: fill
	 * queues to 32 in total, complete like the paths would, count */
	memset(c, 0, sizeof(c));
	p[0].outstanding = p[1].outstanding = p[2].outstanding = 0;
	for (i = 0; i < 3000; i++) {
		k = lun_mpx_select(&s, p, 3, 0);
		c[k]++;
		p[k].outstanding++;
		if (p[0].outstanding + p[1].outstanding + p[2].outstanding >= 32) {
			if (p[0].outstanding)
				p[0].outstanding--;
			if (p[1].outstanding)
				p[1].outstanding--;
			if (p[2].outstanding && i % 4 == 0)
				p[2].outstanding--;
		}
	}
	assert_true(c[2] * 2 < c[0]);
	assert_true(c[0] > 900 && c[1] > 900);
	assert_true(abs((int)c[0] - (int)c[1]) < 30);
	/* an idle non-optimized path still loses to a busy optimized one */
	p[0].alua = p[1].alua = ANO;
	p[0].outstanding = p[1].outstanding = 0;
	p[2].outstanding = 1000;
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 2);
}

static void test_no_path(void **state)
{
	struct lun_mpx_path p[3] = { path(LUN_PATH_FAILED, AO, true),
				     path(LUN_PATH_OFFLINE, AO, false),
				     path(LUN_PATH_ONLINE, LUN_ALUA_OFFLINE, false) };
	struct lun_mpx_sel s;
	int pol;

	for (pol = LUN_MPX_NONE; pol <= LUN_MPX_LEAST_QUEUE + 1; pol++) {
		lun_mpx_sel_init(&s, pol);
		s.last = 1;
		assert_int_equal(lun_mpx_select(&s, p, 3, 0), -1);
		assert_int_equal(s.last, -1);
		assert_int_equal(lun_mpx_select(&s, p, 0, 0), -1);
	}
	/* an unknown policy behaves as none */
	p[1].state = LUN_PATH_ONLINE;
	lun_mpx_sel_init(&s, 42);
	assert_int_equal(lun_mpx_select(&s, p, 3, 0), 1);
}

static void test_many_paths(void **state)
{
	static struct lun_mpx_path p[LUN_MPX_MAX_PATHS + 8];
	struct lun_mpx_sel s;
	size_t i;

	for (i = 0; i < LUN_MPX_MAX_PATHS + 8; i++)
		p[i] = path(LUN_PATH_FAILED, AO, false);
	p[LUN_MPX_MAX_PATHS + 2].state = LUN_PATH_ONLINE; /* beyond the limit: ignored */
	lun_mpx_sel_init(&s, LUN_MPX_ROUND_ROBIN);
	assert_int_equal(lun_mpx_select(&s, p, LUN_MPX_MAX_PATHS + 8, 0), -1);
	p[LUN_MPX_MAX_PATHS - 1].state = LUN_PATH_ONLINE;
	assert_int_equal(lun_mpx_select(&s, p, LUN_MPX_MAX_PATHS + 8, 0), LUN_MPX_MAX_PATHS - 1);
}

static void test_names(void **state)
{
	static const char *const pol[] = { "none", "round-robin", "logical-block", "least-queue" };
	static const char *const st[] = { "online", "standby", "offline", "failed" };
	int i;

	for (i = 0; i < 4; i++) {
		assert_string_equal(lun_mpx_policy_str(i), pol[i]);
		assert_int_equal(lun_mpx_policy_parse(pol[i]), i);
		assert_string_equal(lun_path_state_str((uint8_t)i), st[i]);
		assert_int_equal(lun_path_state_parse(st[i]), i);
	}
	assert_string_equal(lun_mpx_policy_str(4), "unknown");
	assert_string_equal(lun_mpx_policy_str(-1), "unknown");
	assert_int_equal(lun_mpx_policy_parse("round_robin"), -1);
	assert_string_equal(lun_path_state_str(4), "unknown");
	assert_int_equal(lun_path_state_parse("fault"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_round_robin_alua),
		cmocka_unit_test(test_preferred),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_logical_block),
		cmocka_unit_test(test_least_queue),
		cmocka_unit_test(test_no_path),
		cmocka_unit_test(test_many_paths),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
