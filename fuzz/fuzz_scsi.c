/*
 * fuzz_scsi.c - every response parser in scsi.h over arbitrary bytes.
 *
 * The first byte picks one parser (so the corpus can hold real pages for
 * each); the rest of the input is the response.  Every parser then also runs
 * over the same bytes, so that coverage in one does not starve the others.
 * Invariants checked beyond "no crash": outputs stay inside their arrays
 * and strings stay terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scsi.h"

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static void fz_inquiry(const uint8_t *p, size_t n)
{
	struct lun_inquiry inq;

	if (lun_parse_inquiry(p, n, &inq, NULL, 0) == 0) {
		fz_check(strlen(inq.vendor) < sizeof(inq.vendor));
		fz_check(strlen(inq.product) < sizeof(inq.product));
		fz_check(strlen(inq.revision) < sizeof(inq.revision));
		fz_check(lun_device_type_str(inq.device_type) != NULL);
	}
}

static void fz_vpd(const uint8_t *p, size_t n)
{
	struct lun_vpd_pages pages;
	struct lun_vpd_block_limits bl;
	char serial[64], err[128];

	if (lun_parse_vpd_supported(p, n, &pages, err, sizeof(err)) == 0)
		fz_check(pages.count <= sizeof(pages.pages) && pages.count + 4 <= n);
	if (lun_parse_vpd_serial(p, n, serial, sizeof(serial), err, sizeof(err)) == 0)
		fz_check(strlen(serial) < sizeof(serial));
	lun_parse_vpd_block_limits(p, n, &bl, err, sizeof(err));
}

static void fz_ids(const uint8_t *p, size_t n)
{
	static struct lun_vpd_ids ids;
	char id[2 * 255 + 1], s[600], small[7];
	size_t i;

	if (lun_parse_vpd_ids(p, n, &ids, NULL, 0) != 0)
		return;
	fz_check(ids.count <= LUN_VPD83_MAX);
	lun_vpd_ids_identifier(&ids, id, sizeof(id));
	fz_check(strlen(id) < sizeof(id));
	lun_vpd_ids_identifier(&ids, small, sizeof(small));
	fz_check(strlen(small) < sizeof(small));
	for (i = 0; i < ids.count; i++) {
		lun_designator_str(&ids.d[i], s, sizeof(s));
		fz_check(strlen(s) < sizeof(s));
		lun_designator_str(&ids.d[i], small, sizeof(small));
		fz_check(strlen(small) < sizeof(small));
	}
}

static void fz_capacity(const uint8_t *p, size_t n)
{
	struct lun_capacity c;

	if (lun_parse_read_capacity10(p, n, &c, NULL, 0) == 0)
		fz_check(c.blocks == c.last_lba + 1 && c.block_size != 0);
	if (lun_parse_read_capacity16(p, n, &c, NULL, 0) == 0)
		fz_check(c.blocks == c.last_lba + 1 && c.block_size != 0);
}

static void fz_luns(const uint8_t *p, size_t n)
{
	uint16_t luns[8];
	size_t total;
	int got = lun_parse_report_luns(p, n, luns, 8, &total, NULL, 0);
	int i;

	fz_check(got <= 8);
	for (i = 0; i < got; i++)
		fz_check(luns[i] <= 16383);
}

static void fz_sense(const uint8_t *p, size_t n)
{
	struct lun_sense s;
	const uint8_t *sense;
	size_t sl;
	char txt[160];

	if (lun_parse_sense(p, n, &s, NULL, 0) == 0) {
		fz_check(s.key < 16);
		lun_sense_str(&s, txt, sizeof(txt));
		fz_check(strlen(txt) < sizeof(txt));
		lun_sense_str(&s, txt, 5);
	}
	if (lun_iscsi_sense_split(p, n, &sense, &sl, NULL, 0) == 0) {
		fz_check(sense == p + 2 && sl + 2 <= n);
		lun_parse_sense(sense, sl, &s, NULL, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[])(const uint8_t *, size_t) = {
		fz_inquiry, fz_vpd, fz_ids, fz_capacity, fz_luns, fz_sense,
	};
	const size_t np = sizeof(parsers) / sizeof(parsers[0]);
	size_t i;

	if (size == 0)
		return 0;
	/* Exact-length heap copy so ASan catches a read one past the end. */
	uint8_t *buf = malloc(size - 1 ? size - 1 : 1);

	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	parsers[data[0] % np](buf, size - 1);
	for (i = 0; i < np; i++)
		parsers[i](buf, size - 1);
	free(buf);
	return 0;
}
