/*
 * luns.c - `lunaris luns iscsi://HOST[:PORT]/IQN`: REPORT LUNS, then for
 * each LUN its standard INQUIRY, capacity (direct-access devices), serial
 * number (VPD 0x80) and identifier (VPD 0x83).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scsi.h"

struct lun_row {
	uint16_t lun;
	struct lun_inquiry inq;
	uint64_t size;
	uint32_t block_size;
	char serial[256];
	char ident[2 * 255 + 1];
};

/* INQUIRY with EVPD; returns bytes received or -1 (page not supported). */
static int vpd(lunaris_session *s, uint16_t lun, uint8_t page, uint8_t *buf, uint16_t len)
{
	uint8_t cdb[16];
	struct lunaris_scsi_result r;
	size_t n = lun_cdb_inquiry(cdb, true, page, len);

	if (lunaris_scsi_sync(s, lun, cdb, n, LUNARIS_DIR_READ, buf, len, &r) < 0 ||
	    r.status != 0)
		return -1;
	return (int)(len - (r.underflow ? r.residual : 0));
}

static int probe_lun(const struct cli_opts *o, lunaris_session *s, struct lun_row *row)
{
	uint8_t cdb[16], buf[1024];
	struct lunaris_scsi_result r;
	char err[200];
	size_t n = lun_cdb_inquiry(cdb, false, 0, 96);
	int rc, got;

	rc = cli_scsi(s, row->lun, cdb, n, LUNARIS_DIR_READ, buf, 96, &r, "INQUIRY");
	if (rc)
		return rc;
	if (lun_parse_inquiry(buf, 96 - (r.underflow ? r.residual : 0), &row->inq, err,
			      sizeof(err)) < 0) {
		cli_err("LUN %u: %s", row->lun, err);
		return EXIT_SCSI;
	}
	if (row->inq.device_type == 0x00 || row->inq.device_type == 0x0e) {
		uint64_t blocks;

		rc = cli_capacity(s, row->lun, &row->block_size, &blocks);
		if (rc)
			return rc;
		row->size = blocks * row->block_size;
	}
	got = vpd(s, row->lun, 0x80, buf, sizeof(buf));
	if (got < 0 || lun_parse_vpd_serial(buf, (size_t)got, row->serial, sizeof(row->serial),
					    NULL, 0) < 0)
		row->serial[0] = '\0';
	got = vpd(s, row->lun, 0x83, buf, sizeof(buf));
	row->ident[0] = '\0';
	if (got >= 0) {
		struct lun_vpd_ids ids;

		if (lun_parse_vpd_ids(buf, (size_t)got, &ids, NULL, 0) == 0)
			lun_vpd_ids_identifier(&ids, row->ident, sizeof(row->ident));
	}
	return EXIT_OK;
}

static int report_luns(lunaris_session *s, uint16_t *luns, size_t cap, size_t *count)
{
	static uint8_t buf[8 + 8 * 512];
	uint8_t cdb[16];
	struct lunaris_scsi_result r;
	size_t total;
	char err[200];
	size_t n = lun_cdb_report_luns(cdb, sizeof(buf));
	int rc = cli_scsi(s, 0, cdb, n, LUNARIS_DIR_READ, buf, sizeof(buf), &r, "REPORT LUNS");
	int got;

	if (rc)
		return rc;
	got = lun_parse_report_luns(buf, sizeof(buf) - (r.underflow ? r.residual : 0), luns, cap,
				    &total, err, sizeof(err));
	if (got < 0) {
		cli_err("REPORT LUNS: %s", err);
		return EXIT_SCSI;
	}
	*count = (size_t)got;
	return EXIT_OK;
}

int cmd_luns(const struct cli_opts *o, int argc, char **argv)
{
	static struct lun_row rows[512];
	uint16_t luns[512];
	size_t count = 0;
	lunaris_session *s;
	int rc;

	if (argc != 1) {
		cli_err("usage: lunaris luns [--json] iscsi://HOST[:PORT]/TARGET-IQN");
		return EXIT_USAGE;
	}
	s = cli_login_url(o, argv[0], true, false, NULL, &rc);
	if (!s)
		return rc;
	rc = report_luns(s, luns, 512, &count);
	for (size_t i = 0; rc == EXIT_OK && i < count; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].lun = luns[i];
		rc = probe_lun(o, s, &rows[i]);
	}
	if (rc) {
		cli_logout(o, s);
		return rc;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < count; i++) {
			const struct lun_row *w = &rows[i];

			json_array_append_new(
				arr, json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:i,s:s,s:s}", "lun", w->lun,
					       "type", lun_device_type_str(w->inq.device_type),
					       "vendor", w->inq.vendor, "product", w->inq.product,
					       "revision", w->inq.revision, "size",
					       (json_int_t)w->size, "block_size", w->block_size,
					       "serial", w->serial, "identifier", w->ident));
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
	} else {
		printf("%-5s %-26s %-8s %-16s %-4s %14s %6s %-20s %s\n", "LUN", "TYPE", "VENDOR",
		       "PRODUCT", "REV", "SIZE", "BLOCK", "SERIAL", "IDENTIFIER");
		for (size_t i = 0; i < count; i++) {
			const struct lun_row *w = &rows[i];

			printf("%-5u %-26s %-8s %-16s %-4s %14llu %6u %-20s %s\n", w->lun,
			       lun_device_type_str(w->inq.device_type), w->inq.vendor[0] ? w->inq.vendor : "-",
			       w->inq.product[0] ? w->inq.product : "-",
			       w->inq.revision[0] ? w->inq.revision : "-",
			       (unsigned long long)w->size, w->block_size,
			       w->serial[0] ? w->serial : "-", w->ident[0] ? w->ident : "-");
		}
	}
	cli_logout(o, s);
	return EXIT_OK;
}
