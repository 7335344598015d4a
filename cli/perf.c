/*
 * perf.c - `lunaris perf URL`: a load generator.  Keeps --qd commands of
 * --bs bytes in flight for --seconds and reports IOPS, MB/s and the
 * initiator's CPU time per I/O (user + system, from getrusage), the numbers
 * bench/ compares with libiscsi's iscsi-perf.
 *
 * Writes go to the LUN: point it only at scratch LUNs (a tgtd `null` LU).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "scsi.h"
#include "util.h"

struct perf {
	lunaris_session *s;
	uint16_t lun;
	uint32_t bs, blocks_per_io;
	uint64_t lu_blocks, next_lba;
	bool write, random;
	uint64_t ios, errors;
	unsigned inflight;
	uint64_t rng;
	bool stop;
	char err[300];
};

struct perf_slot {
	struct perf *p;
	uint8_t *buf;
};

static uint64_t perf_rand(struct perf *p)
{
	/* xorshift64*: cheap and good enough to spread LBAs */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 0x2545F4914F6CDD1DULL;
}

static void perf_issue(struct perf_slot *sl);

static void perf_done(lunaris_session *s, const struct lunaris_scsi_result *r, void *arg)
{
	struct perf_slot *sl = arg;
	struct perf *p = sl->p;

	p->inflight--;
	if (r->error || r->status) {
		p->errors++;
		lunaris_result_str(r, p->err, sizeof(p->err));
		p->stop = true;
		return;
	}
	p->ios++;
	if (!p->stop)
		perf_issue(sl);
}

static void perf_issue(struct perf_slot *sl)
{
	struct perf *p = sl->p;
	uint64_t span = p->lu_blocks - p->blocks_per_io + 1, lba;
	uint8_t cdb[16];
	struct iovec v = { sl->buf, (size_t)p->bs };
	size_t n;

	if (p->random) {
		lba = (perf_rand(p) % span) / p->blocks_per_io * p->blocks_per_io;
	} else {
		lba = p->next_lba;
		p->next_lba += p->blocks_per_io;
		if (p->next_lba + p->blocks_per_io > p->lu_blocks)
			p->next_lba = 0;
	}
	n = p->write ? lun_cdb_write16(cdb, lba, p->blocks_per_io)
		     : lun_cdb_read16(cdb, lba, p->blocks_per_io);
	if (lunaris_scsi_submit(p->s, p->lun, cdb, n, p->write ? LUNARIS_DIR_WRITE : LUNARIS_DIR_READ,
				&v, 1, p->bs, perf_done, sl) < 0) {
		snprintf(p->err, sizeof(p->err), "%s", lunaris_get_error(p->s));
		p->errors++;
		p->stop = true;
		return;
	}
	p->inflight++;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int cmd_perf(const struct cli_opts *o, int argc, char **argv)
{
	struct perf p = { .bs = o->bs, .rng = 0x9E3779B97F4A7C15ULL };
	struct perf_slot *slots;
	uint32_t bsz, qd = o->qd;
	int rc;

	if (argc != 1) {
		cli_err("usage: lunaris perf URL [--rw randread|randwrite|read|write] [--bs N] "
			"[--qd N] [--seconds N] [--json]");
		return EXIT_USAGE;
	}
	if (!strcmp(o->rw, "randread") || !strcmp(o->rw, "randwrite"))
		p.random = true;
	else if (strcmp(o->rw, "read") && strcmp(o->rw, "write")) {
		cli_err("--rw: expected randread, randwrite, read or write, got '%s'", o->rw);
		return EXIT_USAGE;
	}
	p.write = strstr(o->rw, "write") != NULL;
	p.s = cli_login_url(o, argv[0], true, true, &p.lun, &rc);
	if (!p.s)
		return rc;
	rc = cli_capacity(p.s, p.lun, &bsz, &p.lu_blocks);
	if (rc) {
		cli_logout(o, p.s);
		return rc;
	}
	if (p.bs % bsz || p.bs / bsz > p.lu_blocks) {
		cli_err("--bs %u must be a multiple of the %u-byte block size and fit the LUN", p.bs,
			bsz);
		cli_logout(o, p.s);
		return EXIT_USAGE;
	}
	p.blocks_per_io = p.bs / bsz;
	if (qd > lunaris_queue_depth(p.s))
		qd = lunaris_queue_depth(p.s);
	slots = calloc(qd, sizeof(*slots));
	for (uint32_t i = 0; slots && i < qd; i++) {
		slots[i].p = &p;
		slots[i].buf = aligned_alloc(4096, (p.bs + 4095) / 4096 * 4096);
		if (!slots[i].buf) {
			cli_err("out of memory");
			return EXIT_USAGE;
		}
		memset(slots[i].buf, 0xa5, p.bs);
	}
	double cpu0 = cpu_seconds();
	uint64_t t0 = lun_now_ns(), end = t0 + (uint64_t)o->seconds * 1000000000u;

	for (uint32_t i = 0; i < qd; i++)
		perf_issue(&slots[i]);
	while (!p.stop) {
		if (lunaris_poll_once(p.s, 100) < 0) {
			snprintf(p.err, sizeof(p.err), "%s", lunaris_get_error(p.s));
			p.errors++;
			break;
		}
		if (lun_now_ns() >= end)
			p.stop = true;
	}
	double secs = (double)(lun_now_ns() - t0) / 1e9;
	/* let the commands in flight finish before the buffers go (at most
	 * 10 s; the logout below fails whatever is left) */
	for (uint64_t end2 = lun_now_ns() + 10000000000u;
	     p.inflight && lun_now_ns() < end2 && lunaris_poll_once(p.s, 100) == 0;)
		;
	double cpu = cpu_seconds() - cpu0;
	double iops = (double)p.ios / secs, mbs = iops * p.bs / 1e6;
	double us_per_io = p.ios ? cpu * 1e6 / (double)p.ios : 0;

	if (o->json) {
		json_t *j = json_pack("{s:s,s:i,s:i,s:f,s:I,s:f,s:f,s:f,s:I}", "rw", o->rw, "bs",
				      p.bs, "qd", qd, "seconds", secs, "ios", (json_int_t)p.ios,
				      "iops", iops, "mb_per_s", mbs, "cpu_us_per_io", us_per_io,
				      "errors", (json_int_t)p.errors);
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s bs=%u qd=%u: %.0f IOPS, %.1f MB/s, %.2f us CPU per I/O (%llu I/Os in "
		       "%.1f s)\n",
		       o->rw, p.bs, qd, iops, mbs, us_per_io, (unsigned long long)p.ios, secs);
	}
	rc = EXIT_OK;
	if (p.errors) {
		cli_err("perf stopped: %s", p.err);
		rc = strstr(p.err, "CHECK") ? EXIT_SCSI : EXIT_CONN;
	}
	cli_logout(o, p.s);
	for (uint32_t i = 0; slots && i < qd; i++)
		free(slots[i].buf);
	free(slots);
	return rc;
}
