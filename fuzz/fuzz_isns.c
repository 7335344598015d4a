/*
 * fuzz_isns.c - every iSNSP parser (lib/isns.c) on arbitrary bytes.
 *
 * The input is read the way lunarisd reads a connection: PDU headers,
 * payloads joined into messages (lun_isns_reasm).  Each complete message
 * goes through every message parser, whatever its function ID, and the raw
 * input through the attribute walker and every value decoder.  Invariants:
 * a parser that fails says why and hands out nothing; one that succeeds
 * hands out terminated strings, real ports and addresses; an answer built
 * from what was parsed (SCNRsp, ESIRsp) is a well-formed PDU again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isns.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) >= cap)
		abort();
}

static void check_err(const char *err)
{
	if (!err[0])
		abort(); /* a failure without a sentence */
}

/* A PDU we built must decode again and hold well-formed attributes. */
static void check_built(const struct lun_isns_msg *m)
{
	struct lun_isns_hdr h;
	struct lun_isns_attr a;
	size_t off = 0;
	char err[256];
	int rc;

	if (lun_isns_hdr_decode(m->buf, m->len, &h, err, sizeof(err)) ||
	    (size_t)h.len + LUN_ISNS_HDR_LEN != m->len)
		abort();
	/* responses start with the status word */
	if (h.func & LUN_ISNS_RESPONSE)
		off = 4;
	while ((rc = lun_isns_attr_next(m->buf + LUN_ISNS_HDR_LEN, h.len, &off, &a, err,
					sizeof(err))) == 1)
		;
	if (rc)
		abort();
}

static void fuzz_values(const uint8_t *p, size_t n)
{
	struct lun_isns_attr a;
	size_t off = 0;
	char err[256], s[256], host[48];
	uint32_t v32;
	uint64_t v64;
	int rc;

	while ((rc = lun_isns_attr_next(p, n, &off, &a, err, sizeof(err))) == 1) {
		if (off > n || a.len % 4)
			abort();
		err[0] = '\0';
		if (lun_isns_attr_string(&a, s, sizeof(s), err, sizeof(err)) == 0)
			check_str(s, sizeof(s));
		else
			check_err(err);
		if (lun_isns_attr_u32(&a, &v32, err, sizeof(err)) == 0 && a.len != 4)
			abort();
		if (lun_isns_attr_u64(&a, &v64, err, sizeof(err)) == 0 && a.len != 8)
			abort();
		if (lun_isns_attr_addr(&a, host, sizeof(host), err, sizeof(err)) == 0) {
			uint8_t back[16];

			check_str(host, sizeof(host));
			/* what we print, we can read back */
			if (lun_isns_addr_from_string(host, back))
				abort();
		}
	}
	if (rc < 0)
		check_err(err);
}

static void fuzz_message(const struct lun_isns_reasm *r)
{
	static const uint16_t funcs[] = { LUN_ISNS_DEV_ATTR_REG, LUN_ISNS_DEV_ATTR_QRY,
					  LUN_ISNS_DEV_GET_NEXT, LUN_ISNS_DEV_DEREG,
					  LUN_ISNS_SCN_REG };
	/* Answers parse as whatever they claim to be, and also as the
	 * answer to each request, so every path sees every message. */
	uint16_t f = r->func | LUN_ISNS_RESPONSE;
	struct lun_isns_rsp rsp;
	struct lun_isns_scn scn;
	struct lun_isns_esi esi;
	struct lun_isns_portal *pg = (struct lun_isns_portal *)&pg;
	struct lun_isns_msg m;
	char err[256], name[224];
	uint32_t period, type;
	int n;

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (lun_isns_parse_rsp(f, funcs[i], r->buf, r->len, &rsp, err, sizeof(err)) == 0 &&
		    rsp.attrs_len + 4 != r->len)
			abort();
	err[0] = '\0';
	if (lun_isns_parse_reg_rsp(f, r->buf, r->len, &period, err, sizeof(err)))
		check_err(err);
	err[0] = '\0';
	if (lun_isns_parse_status_rsp(f, f & (uint16_t)~LUN_ISNS_RESPONSE, r->buf, r->len, err,
				      sizeof(err)))
		check_err(err);
	err[0] = '\0';
	n = lun_isns_parse_getnext_rsp(f, r->buf, r->len, name, sizeof(name), &type, err,
				       sizeof(err));
	if (n == 1 && (!name[0] || strnlen(name, sizeof(name)) >= sizeof(name)))
		abort();
	if (n < 0)
		check_err(err);
	err[0] = '\0';
	n = lun_isns_parse_portals_rsp(f, r->buf, r->len, n == 1 ? name : "iqn.2024-01.test:t",
				       &pg, err, sizeof(err));
	if (n < 0 && (pg || !err[0]))
		abort();
	for (int i = 0; i < n; i++)
		if (!pg[i].port || !pg[i].host[0])
			abort();
	if (n == 0 && pg)
		abort();
	free(pg);

	err[0] = '\0';
	if (lun_isns_parse_scn(r->buf, r->len, &scn, err, sizeof(err)) == 0) {
		if (!scn.nevents || scn.nevents > LUN_ISNS_SCN_MAX_EVENTS)
			abort();
		check_str(scn.dest, sizeof(scn.dest));
		for (size_t i = 0; i < scn.nevents; i++)
			if (!scn.ev[i].name[0])
				abort();
		if (lun_isns_build_scn_rsp(&m, r->xid, 0, scn.dest, err, sizeof(err)))
			abort();
		check_built(&m);
	} else {
		check_err(err);
	}
	err[0] = '\0';
	if (lun_isns_parse_esi(r->buf, r->len, &esi, err, sizeof(err)) == 0) {
		if (!esi.port)
			abort();
		/* an ESI too big to echo is an error, never a broken PDU */
		if (lun_isns_build_esi_rsp(&m, r->xid, 0, r->buf, r->len, err, sizeof(err)) == 0)
			check_built(&m);
	} else {
		check_err(err);
	}
	fuzz_values(r->buf, r->len);
}

/* Requests built from input-derived names are well-formed, or refused. */
static void fuzz_builders(const uint8_t *data, size_t size)
{
	char name[300];
	struct lun_isns_msg m;
	char err[256];
	uint8_t addr[16] = { 0 };
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, n);
	name[n] = '\0';
	struct lun_isns_reg r = { .source = name[0] ? name : "x", .eid = name, .alias = name,
				  .portal_addr = addr, .portal_port = 1, .scn_port = 1 };

	if (lun_isns_build_reg(&m, 1, &r, err, sizeof(err)) == 0)
		check_built(&m);
	if (lun_isns_build_getnext(&m, 2, "iqn.2024-01.test:i", name, 1, err, sizeof(err)) == 0)
		check_built(&m);
	if (lun_isns_build_qry_portals(&m, 3, "iqn.2024-01.test:i", name, err, sizeof(err)) == 0)
		check_built(&m);
	if (lun_isns_build_dereg(&m, 4, "iqn.2024-01.test:i", name, err, sizeof(err)) == 0)
		check_built(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_isns_reasm r = { 0 };
	size_t off = 0;
	char err[256];

	while (size - off >= LUN_ISNS_HDR_LEN) {
		struct lun_isns_hdr h;
		int rc;

		err[0] = '\0';
		if (lun_isns_hdr_decode(data + off, size - off, &h, err, sizeof(err))) {
			check_err(err);
			break;
		}
		if (size - off - LUN_ISNS_HDR_LEN < h.len)
			break; /* a partial PDU waits for more bytes */
		rc = lun_isns_reasm_add(&r, &h, data + off + LUN_ISNS_HDR_LEN, err, sizeof(err));
		off += LUN_ISNS_HDR_LEN + h.len;
		if (rc == 1)
			fuzz_message(&r);
		else if (rc < 0)
			check_err(err);
	}
	lun_isns_reasm_free(&r);
	fuzz_values(data, size);
	fuzz_builders(data, size);
	return 0;
}
