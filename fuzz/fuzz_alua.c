/*
 * fuzz_alua.c - REPORT TARGET PORT GROUPS parsing over arbitrary bytes.
 *
 * The first byte's bit 0 says which format the CDB asked for; the rest is
 * the parameter data.  Invariants beyond "no crash": what is kept fits its
 * arrays and matches the bytes it came from, a report with descriptors
 * was long enough to hold them, an error says why, no group id or port
 * appears twice, the lookups find what was kept, and the names and the
 * one-line description stay terminated inside any buffer size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alua.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static struct lun_alua_report rep;

static void fz_report(const uint8_t *p, size_t n, bool ext)
{
	char err[256] = "", s[600], tiny[9];
	size_t i, j, hdr;

	if (lun_alua_parse(p, n, ext, &rep, err, sizeof(err)) < 0) {
		fz_check(err[0] != '\0' && strlen(err) < sizeof(err));
		return;
	}
	fz_check(n >= 4);
	fz_check(rep.needed == 4 + (size_t)lun_get_be32(p));
	fz_check(rep.truncated == (rep.needed > n));
	fz_check(!rep.extended || ext);
	fz_check(rep.count <= LUN_ALUA_MAX_GROUPS && rep.count <= rep.total);
	hdr = rep.extended ? 8 : 4;
	/* every descriptor takes at least 8 bytes of what arrived */
	fz_check(rep.total == 0 || hdr + 8 * rep.total <= n);
	for (i = 0; i < rep.count; i++) {
		const struct lun_alua_group *g = &rep.g[i];

		fz_check(g->state <= 0x0f);
		fz_check(!(g->supported & 0x20));
		fz_check(g->nports <= LUN_ALUA_MAX_PORTS && g->nports <= g->port_count);
		fz_check(g->nports == g->port_count || g->nports == LUN_ALUA_MAX_PORTS);
		fz_check(lun_alua_find_group(&rep, g->id) == g);
		for (j = 0; j < g->nports; j++)
			fz_check(lun_alua_find_port(&rep, g->ports[j]) == g);
		fz_check(lun_alua_state_str(g->state) != NULL);
		fz_check(lun_alua_status_str(g->status) != NULL);
		lun_alua_group_str(g, s, sizeof(s));
		fz_check(strlen(s) < sizeof(s));
		lun_alua_group_str(g, tiny, sizeof(tiny));
		fz_check(strlen(tiny) < sizeof(tiny));
		lun_alua_supported_str(g->supported, tiny, sizeof(tiny));
		fz_check(strlen(tiny) < sizeof(tiny));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size == 0)
		return 0;
	/* Exact-length heap copy so ASan catches a read one past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	fz_report(buf, size - 1, data[0] & 1);
	fz_report(buf, size - 1, !(data[0] & 1));
	fz_check(lun_alua_tpgs(buf, size - 1) <= LUN_TPGS_BOTH);
	fz_check(lun_alua_tpgs_str(lun_alua_tpgs(buf, size - 1)) != NULL);
	free(buf);
	return 0;
}
