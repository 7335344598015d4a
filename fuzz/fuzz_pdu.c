/*
 * fuzz_pdu.c - libFuzzer target for the BHS codec and the AHS parser.
 *
 * The first 48 bytes are a BHS, decoded as if sent by a target and as if sent
 * by an initiator.  Whatever decodes must encode again, and decoding that
 * encoding must give the identical struct (decode zeroes the struct first, so
 * padding compares equal).  The remaining bytes go to lun_ahs_parse(), and an
 * extended CDB it accepts must survive lun_ahs_build_ext_cdb() unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_pdu_check_error(const char *err)
{
	/* A failure must always say why. */
	if (!err[0] || !memchr(err, '\0', 256))
		abort();
}

static void fz_pdu_roundtrip(const uint8_t *bhs, enum lun_pdu_dir dir)
{
	struct lun_pdu a, b;
	uint8_t again[LUN_BHS_LEN], third[LUN_BHS_LEN];
	char err[256] = "";

	if (lun_pdu_decode(bhs, dir, &a, err, sizeof(err))) {
		fz_pdu_check_error(err);
		return;
	}
	if (!strcmp(lun_pdu_opcode_name(a.opcode), "unknown opcode"))
		abort();
	if (lun_pdu_encode(&a, again, err, sizeof(err)))
		abort();
	if (lun_pdu_decode(again, dir, &b, err, sizeof(err)))
		abort();
	if (memcmp(&a, &b, sizeof(a)))
		abort();
	/* The encoding is canonical: a second trip gives the same bytes. */
	if (lun_pdu_encode(&b, third, err, sizeof(err)) || memcmp(again, third, LUN_BHS_LEN))
		abort();
}

static void fz_pdu_ahs(const uint8_t *buf, size_t len)
{
	struct lun_ahs a, b;
	uint8_t cdb[16 + sizeof(a.ext_cdb)] = { 0 };
	uint8_t area[sizeof(cdb) + 8];
	char err[256] = "";
	size_t n;

	if (lun_ahs_parse(buf, len, &a, err, sizeof(err))) {
		fz_pdu_check_error(err);
		return;
	}
	if (!a.has_ext_cdb)
		return;
	if (a.ext_cdb_len == 0 || a.ext_cdb_len > sizeof(a.ext_cdb))
		abort();
	memcpy(cdb + 16, a.ext_cdb, a.ext_cdb_len);
	n = lun_ahs_build_ext_cdb(cdb, 16u + a.ext_cdb_len, area, sizeof(area));
	if (!n || n % 4 || lun_ahs_parse(area, n, &b, err, sizeof(err)))
		abort();
	if (b.ext_cdb_len != a.ext_cdb_len || memcmp(b.ext_cdb, a.ext_cdb, a.ext_cdb_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t bhs[LUN_BHS_LEN] = { 0 };

	memcpy(bhs, data, size < LUN_BHS_LEN ? size : LUN_BHS_LEN);
	fz_pdu_roundtrip(bhs, LUN_FROM_TARGET);
	fz_pdu_roundtrip(bhs, LUN_FROM_INITIATOR);
	if (size > LUN_BHS_LEN)
		fz_pdu_ahs(data + LUN_BHS_LEN, size - LUN_BHS_LEN);
	return 0;
}
