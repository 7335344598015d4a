/*
 * pdu.c - floor 2: Basic Header Segment codec (RFC 7143 section 11).
 *
 * One table row per opcode gives its name, which side sends it, the reserved
 * bits of byte 1 and the reserved byte ranges that must read as zero, and
 * two small functions that move the typed fields.  Decoding first applies
 * the generic checks from the table, then the per-opcode rules about
 * impossible field combinations.
 *
 * Pragmatism: fields the RFC calls "X or Reserved" (LUN of NOP-In and Text
 * Response, Data-In status and residual without S, ...) are decoded as they
 * are and never checked, because real targets (tgtd, istgt) leave old values
 * there.  Only fields that are reserved unconditionally are checked.
 */
#include "pdu.h"

#include "util.h"

#define PDU_NO_AHS 0x01u  /* TotalAHSLength must be 0 */
#define PDU_NO_DATA 0x02u /* DataSegmentLength must be 0 */

#define PDU_F 0x80u /* byte 1 bit 7: Final, or the fixed 1 of many PDUs */

struct pdu_range {
	uint8_t from, to; /* inclusive; {0, 0} ends the list */
};

struct pdu_op {
	uint8_t opcode;
	uint8_t flags_rsvd; /* reserved bits of byte 1 */
	uint8_t must_zero;  /* PDU_NO_AHS | PDU_NO_DATA */
	struct pdu_range rsvd[5];
	const char *name;
	int (*decode)(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		      size_t errlen);
	int (*encode)(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		      size_t errlen);
};

static bool pdu_from_target(uint8_t opcode)
{
	return opcode >= 0x20;
}

/* ---- shared helpers --------------------------------------------------- */

static int pdu_err_range(const char *nm, const char *field, unsigned v, char *err, size_t errlen)
{
	lun_seterr(err, errlen, "%s: %s %u is out of range", nm, field, v);
	return -1;
}

/* A login stage field: 0, 1 and 3 exist, 2 is reserved (RFC 7143 11.12.3). */
static bool pdu_stage_ok(uint8_t s)
{
	return s <= 3 && s != 2;
}

/* ---- NOP-Out / NOP-In (RFC 7143 11.18, 11.19) ------------------------- */

static int dec_nop_out(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		       size_t errlen)
{
	struct lun_pdu_nop_out *n = &p->u.nop_out;

	n->lun = lun_get_be64(b + 8);
	n->itt = lun_get_be32(b + 16);
	n->ttt = lun_get_be32(b + 20);
	n->cmdsn = lun_get_be32(b + 24);
	n->expstatsn = lun_get_be32(b + 28);
	return 0;
}

static int enc_nop_out(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		       size_t errlen)
{
	const struct lun_pdu_nop_out *n = &p->u.nop_out;

	b[1] = PDU_F;
	lun_put_be64(b + 8, n->lun);
	lun_put_be32(b + 16, n->itt);
	lun_put_be32(b + 20, n->ttt);
	lun_put_be32(b + 24, n->cmdsn);
	lun_put_be32(b + 28, n->expstatsn);
	return 0;
}

static int check_nop_in(const struct lun_pdu *p, const char *nm, char *err, size_t errlen)
{
	const struct lun_pdu_nop_in *n = &p->u.nop_in;

	/* RFC 7143 11.19: a NOP-In that answers no NOP-Out carries no data. */
	if (n->itt == LUN_RSVD_TAG && p->data_len) {
		lun_seterr(err, errlen,
			   "%s: DataSegmentLength is %u but the Initiator Task Tag is "
			   "0xffffffff, so it answers no ping and must carry no data",
			   nm, p->data_len);
		return -1;
	}
	/* RFC 7143 11.19.2: a reply to a NOP-Out has Target Transfer Tag 0xffffffff. */
	if (n->itt != LUN_RSVD_TAG && n->ttt != LUN_RSVD_TAG) {
		lun_seterr(err, errlen,
			   "%s: both the Initiator Task Tag (0x%08x) and the Target Transfer "
			   "Tag (0x%08x) are valid, a reply cannot also be a ping",
			   nm, n->itt, n->ttt);
		return -1;
	}
	return 0;
}

static int dec_nop_in(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		      size_t errlen)
{
	struct lun_pdu_nop_in *n = &p->u.nop_in;

	n->lun = lun_get_be64(b + 8);
	n->itt = lun_get_be32(b + 16);
	n->ttt = lun_get_be32(b + 20);
	n->statsn = lun_get_be32(b + 24);
	n->expcmdsn = lun_get_be32(b + 28);
	n->maxcmdsn = lun_get_be32(b + 32);
	return check_nop_in(p, nm, err, errlen);
}

static int enc_nop_in(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		      size_t errlen)
{
	const struct lun_pdu_nop_in *n = &p->u.nop_in;

	b[1] = PDU_F;
	lun_put_be64(b + 8, n->lun);
	lun_put_be32(b + 16, n->itt);
	lun_put_be32(b + 20, n->ttt);
	lun_put_be32(b + 24, n->statsn);
	lun_put_be32(b + 28, n->expcmdsn);
	lun_put_be32(b + 32, n->maxcmdsn);
	return 0;
}

/* ---- SCSI Command / Response (RFC 7143 11.3, 11.4) --------------------- */

static int dec_scsi_cmd(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			size_t errlen)
{
	struct lun_pdu_scsi_cmd *c = &p->u.scsi_cmd;

	c->final = b[1] & 0x80;
	c->read = b[1] & 0x40;
	c->write = b[1] & 0x20;
	c->attr = b[1] & 0x07;
	/* RFC 7143 11.3.1: task attribute values 5-7 are reserved. */
	if (c->attr > LUN_ATTR_ACA)
		return pdu_err_range(nm, "task attribute", c->attr, err, errlen);
	c->lun = lun_get_be64(b + 8);
	c->itt = lun_get_be32(b + 16);
	c->edtl = lun_get_be32(b + 20);
	c->cmdsn = lun_get_be32(b + 24);
	c->expstatsn = lun_get_be32(b + 28);
	memcpy(c->cdb, b + 32, 16);
	return 0;
}

static int enc_scsi_cmd(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			size_t errlen)
{
	const struct lun_pdu_scsi_cmd *c = &p->u.scsi_cmd;

	if (c->attr > LUN_ATTR_ACA)
		return pdu_err_range(nm, "task attribute", c->attr, err, errlen);
	b[1] = (uint8_t)((c->final ? 0x80 : 0) | (c->read ? 0x40 : 0) | (c->write ? 0x20 : 0) |
			 c->attr);
	lun_put_be64(b + 8, c->lun);
	lun_put_be32(b + 16, c->itt);
	lun_put_be32(b + 20, c->edtl);
	lun_put_be32(b + 24, c->cmdsn);
	lun_put_be32(b + 28, c->expstatsn);
	memcpy(b + 32, c->cdb, 16);
	return 0;
}

static int dec_scsi_rsp(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			size_t errlen)
{
	struct lun_pdu_scsi_rsp *r = &p->u.scsi_rsp;

	r->bidi_overflow = b[1] & 0x10;
	r->bidi_underflow = b[1] & 0x08;
	r->overflow = b[1] & 0x04;
	r->underflow = b[1] & 0x02;
	/* RFC 7143 11.4.1: O and U, and o and u, are mutually exclusive. */
	if ((r->overflow && r->underflow) || (r->bidi_overflow && r->bidi_underflow)) {
		lun_seterr(err, errlen, "%s: flags byte 0x%02x sets both overflow and underflow",
			   nm, b[1]);
		return -1;
	}
	r->response = b[2];
	r->status = b[3];
	r->itt = lun_get_be32(b + 16);
	r->snack_tag = lun_get_be32(b + 20);
	r->statsn = lun_get_be32(b + 24);
	r->expcmdsn = lun_get_be32(b + 28);
	r->maxcmdsn = lun_get_be32(b + 32);
	r->expdatasn = lun_get_be32(b + 36);
	r->bidi_residual = lun_get_be32(b + 40);
	r->residual = lun_get_be32(b + 44);
	return 0;
}

static int enc_scsi_rsp(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			size_t errlen)
{
	const struct lun_pdu_scsi_rsp *r = &p->u.scsi_rsp;

	b[1] = (uint8_t)(PDU_F | (r->bidi_overflow ? 0x10 : 0) | (r->bidi_underflow ? 0x08 : 0) |
			 (r->overflow ? 0x04 : 0) | (r->underflow ? 0x02 : 0));
	b[2] = r->response;
	b[3] = r->status;
	lun_put_be32(b + 16, r->itt);
	lun_put_be32(b + 20, r->snack_tag);
	lun_put_be32(b + 24, r->statsn);
	lun_put_be32(b + 28, r->expcmdsn);
	lun_put_be32(b + 32, r->maxcmdsn);
	lun_put_be32(b + 36, r->expdatasn);
	lun_put_be32(b + 40, r->bidi_residual);
	lun_put_be32(b + 44, r->residual);
	return 0;
}

/* ---- Task Management (RFC 7143 11.5, 11.6) ----------------------------- */

static int dec_tmf_req(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		       size_t errlen)
{
	struct lun_pdu_tmf_req *t = &p->u.tmf_req;

	t->function = b[1] & 0x7f;
	t->lun = lun_get_be64(b + 8);
	t->itt = lun_get_be32(b + 16);
	t->rtt = lun_get_be32(b + 20);
	t->cmdsn = lun_get_be32(b + 24);
	t->expstatsn = lun_get_be32(b + 28);
	t->refcmdsn = lun_get_be32(b + 32);
	t->expdatasn = lun_get_be32(b + 36);
	return 0;
}

static int enc_tmf_req(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		       size_t errlen)
{
	const struct lun_pdu_tmf_req *t = &p->u.tmf_req;

	if (t->function > 0x7f)
		return pdu_err_range(nm, "function", t->function, err, errlen);
	b[1] = (uint8_t)(PDU_F | t->function);
	lun_put_be64(b + 8, t->lun);
	lun_put_be32(b + 16, t->itt);
	lun_put_be32(b + 20, t->rtt);
	lun_put_be32(b + 24, t->cmdsn);
	lun_put_be32(b + 28, t->expstatsn);
	lun_put_be32(b + 32, t->refcmdsn);
	lun_put_be32(b + 36, t->expdatasn);
	return 0;
}

static int dec_tmf_rsp(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		       size_t errlen)
{
	struct lun_pdu_tmf_rsp *t = &p->u.tmf_rsp;

	t->response = b[2];
	t->itt = lun_get_be32(b + 16);
	t->statsn = lun_get_be32(b + 24);
	t->expcmdsn = lun_get_be32(b + 28);
	t->maxcmdsn = lun_get_be32(b + 32);
	return 0;
}

static int enc_tmf_rsp(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		       size_t errlen)
{
	const struct lun_pdu_tmf_rsp *t = &p->u.tmf_rsp;

	b[1] = PDU_F;
	b[2] = t->response;
	lun_put_be32(b + 16, t->itt);
	lun_put_be32(b + 24, t->statsn);
	lun_put_be32(b + 28, t->expcmdsn);
	lun_put_be32(b + 32, t->maxcmdsn);
	return 0;
}

/* ---- Login (RFC 7143 11.12, 11.13) ------------------------------------- */

/*
 * Byte 1 of both login PDUs: T C . . CSG CSG NSG NSG.  NSG means something
 * only with T set; without T it is left undecoded-but-kept, because tgtd
 * fills it in while staying in a stage.
 */
static int dec_login_flags(uint8_t f, bool *transit, bool *cont, uint8_t *csg, uint8_t *nsg,
			   const char *nm, char *err, size_t errlen)
{
	*transit = f & 0x80;
	*cont = f & 0x40;
	*csg = (f >> 2) & 3;
	*nsg = f & 3;
	/* RFC 7143 11.12.2: with C set, T must be 0. */
	if (*transit && *cont) {
		lun_seterr(err, errlen, "%s: both the T (transit) and C (continue) bits are set",
			   nm);
		return -1;
	}
	/* RFC 7143 11.12.3: stage value 2 is reserved. */
	if (*csg == 2)
		return pdu_err_range(nm, "CSG", *csg, err, errlen);
	/* RFC 7143 11.12.3: NSG is only meaningful (and must be valid) with T. */
	if (*transit && *nsg == 2)
		return pdu_err_range(nm, "NSG", *nsg, err, errlen);
	return 0;
}

static int enc_login_flags(bool transit, bool cont, uint8_t csg, uint8_t nsg, uint8_t *out,
			   const char *nm, char *err, size_t errlen)
{
	if (!pdu_stage_ok(csg))
		return pdu_err_range(nm, "CSG", csg, err, errlen);
	if (nsg > 3 || (transit && nsg == 2))
		return pdu_err_range(nm, "NSG", nsg, err, errlen);
	if (transit && cont) {
		lun_seterr(err, errlen, "%s: T and C cannot both be set", nm);
		return -1;
	}
	*out = (uint8_t)((transit ? 0x80 : 0) | (cont ? 0x40 : 0) | csg << 2 | nsg);
	return 0;
}

static int dec_login_req(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			 size_t errlen)
{
	struct lun_pdu_login_req *l = &p->u.login_req;

	/* RFC 7143 11.12: the I bit of a Login Request is always 1. */
	if (!p->immediate) {
		lun_seterr(err, errlen, "%s: the I bit (byte 0 bit 6) is 0, must be 1", nm);
		return -1;
	}
	if (dec_login_flags(b[1], &l->transit, &l->cont, &l->csg, &l->nsg, nm, err, errlen))
		return -1;
	l->version_max = b[2];
	l->version_min = b[3];
	memcpy(l->isid, b + 8, 6);
	l->tsih = lun_get_be16(b + 14);
	l->itt = lun_get_be32(b + 16);
	l->cid = lun_get_be16(b + 20);
	l->cmdsn = lun_get_be32(b + 24);
	l->expstatsn = lun_get_be32(b + 28);
	return 0;
}

static int enc_login_req(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			 size_t errlen)
{
	const struct lun_pdu_login_req *l = &p->u.login_req;

	if (enc_login_flags(l->transit, l->cont, l->csg, l->nsg, &b[1], nm, err, errlen))
		return -1;
	b[0] |= 0x40; /* always immediate, whatever p->immediate says */
	b[2] = l->version_max;
	b[3] = l->version_min;
	memcpy(b + 8, l->isid, 6);
	lun_put_be16(b + 14, l->tsih);
	lun_put_be32(b + 16, l->itt);
	lun_put_be16(b + 20, l->cid);
	lun_put_be32(b + 24, l->cmdsn);
	lun_put_be32(b + 28, l->expstatsn);
	return 0;
}

static int dec_login_rsp(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			 size_t errlen)
{
	struct lun_pdu_login_rsp *l = &p->u.login_rsp;

	if (dec_login_flags(b[1], &l->transit, &l->cont, &l->csg, &l->nsg, nm, err, errlen))
		return -1;
	l->version_max = b[2];
	l->version_active = b[3];
	memcpy(l->isid, b + 8, 6);
	l->tsih = lun_get_be16(b + 14);
	l->itt = lun_get_be32(b + 16);
	l->statsn = lun_get_be32(b + 24);
	l->expcmdsn = lun_get_be32(b + 28);
	l->maxcmdsn = lun_get_be32(b + 32);
	l->status_class = b[36];
	l->status_detail = b[37];
	return 0;
}

static int enc_login_rsp(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			 size_t errlen)
{
	const struct lun_pdu_login_rsp *l = &p->u.login_rsp;

	if (enc_login_flags(l->transit, l->cont, l->csg, l->nsg, &b[1], nm, err, errlen))
		return -1;
	b[2] = l->version_max;
	b[3] = l->version_active;
	memcpy(b + 8, l->isid, 6);
	lun_put_be16(b + 14, l->tsih);
	lun_put_be32(b + 16, l->itt);
	lun_put_be32(b + 24, l->statsn);
	lun_put_be32(b + 28, l->expcmdsn);
	lun_put_be32(b + 32, l->maxcmdsn);
	b[36] = l->status_class;
	b[37] = l->status_detail;
	return 0;
}

/* ---- Text (RFC 7143 11.10, 11.11) -------------------------------------- */

static int dec_text_flags(uint8_t f, bool *final, bool *cont, const char *nm, char *err,
			  size_t errlen)
{
	*final = f & 0x80;
	*cont = f & 0x40;
	/* RFC 7143 11.10.2 / 11.11.2: a PDU with C set must not have F set. */
	if (*final && *cont) {
		lun_seterr(err, errlen, "%s: both the F (final) and C (continue) bits are set",
			   nm);
		return -1;
	}
	return 0;
}

/* Text Request and Response share bytes 1 (F, C) and 8-23 (LUN, ITT, TTT). */
static int dec_text_common(const uint8_t *b, bool *final, bool *cont, uint64_t *lun,
			   uint32_t *itt, uint32_t *ttt, const char *nm, char *err, size_t errlen)
{
	if (dec_text_flags(b[1], final, cont, nm, err, errlen))
		return -1;
	*lun = lun_get_be64(b + 8);
	*itt = lun_get_be32(b + 16);
	*ttt = lun_get_be32(b + 20);
	return 0;
}

static int enc_text_common(bool final, bool cont, uint64_t lun, uint32_t itt, uint32_t ttt,
			   uint8_t *b, const char *nm, char *err, size_t errlen)
{
	if (final && cont) {
		lun_seterr(err, errlen, "%s: F and C cannot both be set", nm);
		return -1;
	}
	b[1] = (uint8_t)((final ? 0x80 : 0) | (cont ? 0x40 : 0));
	lun_put_be64(b + 8, lun);
	lun_put_be32(b + 16, itt);
	lun_put_be32(b + 20, ttt);
	return 0;
}

static int dec_text_req(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			size_t errlen)
{
	struct lun_pdu_text_req *t = &p->u.text_req;

	if (dec_text_common(b, &t->final, &t->cont, &t->lun, &t->itt, &t->ttt, nm, err, errlen))
		return -1;
	t->cmdsn = lun_get_be32(b + 24);
	t->expstatsn = lun_get_be32(b + 28);
	return 0;
}

static int enc_text_req(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			size_t errlen)
{
	const struct lun_pdu_text_req *t = &p->u.text_req;

	if (enc_text_common(t->final, t->cont, t->lun, t->itt, t->ttt, b, nm, err, errlen))
		return -1;
	lun_put_be32(b + 24, t->cmdsn);
	lun_put_be32(b + 28, t->expstatsn);
	return 0;
}

static int dec_text_rsp(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			size_t errlen)
{
	struct lun_pdu_text_rsp *t = &p->u.text_rsp;

	if (dec_text_common(b, &t->final, &t->cont, &t->lun, &t->itt, &t->ttt, nm, err, errlen))
		return -1;
	t->statsn = lun_get_be32(b + 24);
	t->expcmdsn = lun_get_be32(b + 28);
	t->maxcmdsn = lun_get_be32(b + 32);
	return 0;
}

static int enc_text_rsp(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			size_t errlen)
{
	const struct lun_pdu_text_rsp *t = &p->u.text_rsp;

	if (enc_text_common(t->final, t->cont, t->lun, t->itt, t->ttt, b, nm, err, errlen))
		return -1;
	lun_put_be32(b + 24, t->statsn);
	lun_put_be32(b + 28, t->expcmdsn);
	lun_put_be32(b + 32, t->maxcmdsn);
	return 0;
}

/* ---- Data-Out / Data-In (RFC 7143 11.7) -------------------------------- */

static int dec_data_out(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			size_t errlen)
{
	struct lun_pdu_data_out *d = &p->u.data_out;

	d->final = b[1] & 0x80;
	d->lun = lun_get_be64(b + 8);
	d->itt = lun_get_be32(b + 16);
	d->ttt = lun_get_be32(b + 20);
	d->expstatsn = lun_get_be32(b + 28);
	d->datasn = lun_get_be32(b + 36);
	d->buffer_offset = lun_get_be32(b + 40);
	return 0;
}

static int enc_data_out(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			size_t errlen)
{
	const struct lun_pdu_data_out *d = &p->u.data_out;

	b[1] = d->final ? 0x80 : 0;
	lun_put_be64(b + 8, d->lun);
	lun_put_be32(b + 16, d->itt);
	lun_put_be32(b + 20, d->ttt);
	lun_put_be32(b + 28, d->expstatsn);
	lun_put_be32(b + 36, d->datasn);
	lun_put_be32(b + 40, d->buffer_offset);
	return 0;
}

static int check_data_in(const struct lun_pdu_data_in *d, uint8_t f, const char *nm, char *err,
			 size_t errlen)
{
	/* RFC 7143 11.7.3: status may only come with the last PDU (S implies F). */
	if (d->has_status && !d->final) {
		lun_seterr(err, errlen, "%s: the S (status) bit is set without the F bit "
			   "(flags byte 0x%02x)", nm, f);
		return -1;
	}
	/* RFC 7143 11.7.3 (as 11.4.1): O and U are mutually exclusive. */
	if (d->has_status && d->overflow && d->underflow) {
		lun_seterr(err, errlen, "%s: flags byte 0x%02x sets both overflow and underflow",
			   nm, f);
		return -1;
	}
	return 0;
}

static int dec_data_in(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		       size_t errlen)
{
	struct lun_pdu_data_in *d = &p->u.data_in;

	d->final = b[1] & 0x80;
	d->ack = b[1] & 0x40;
	d->overflow = b[1] & 0x04;
	d->underflow = b[1] & 0x02;
	d->has_status = b[1] & 0x01;
	if (check_data_in(d, b[1], nm, err, errlen))
		return -1;
	d->status = d->has_status ? b[3] : 0;
	d->lun = lun_get_be64(b + 8);
	d->itt = lun_get_be32(b + 16);
	d->ttt = lun_get_be32(b + 20);
	d->statsn = lun_get_be32(b + 24);
	d->expcmdsn = lun_get_be32(b + 28);
	d->maxcmdsn = lun_get_be32(b + 32);
	d->datasn = lun_get_be32(b + 36);
	d->buffer_offset = lun_get_be32(b + 40);
	d->residual = lun_get_be32(b + 44);
	return 0;
}

static int enc_data_in(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		       size_t errlen)
{
	const struct lun_pdu_data_in *d = &p->u.data_in;

	b[1] = (uint8_t)((d->final ? 0x80 : 0) | (d->ack ? 0x40 : 0) | (d->overflow ? 0x04 : 0) |
			 (d->underflow ? 0x02 : 0) | (d->has_status ? 0x01 : 0));
	b[3] = d->has_status ? d->status : 0;
	lun_put_be64(b + 8, d->lun);
	lun_put_be32(b + 16, d->itt);
	lun_put_be32(b + 20, d->ttt);
	lun_put_be32(b + 24, d->statsn);
	lun_put_be32(b + 28, d->expcmdsn);
	lun_put_be32(b + 32, d->maxcmdsn);
	lun_put_be32(b + 36, d->datasn);
	lun_put_be32(b + 40, d->buffer_offset);
	lun_put_be32(b + 44, d->residual);
	return 0;
}

/* ---- Logout (RFC 7143 11.14, 11.15) ------------------------------------ */

static int dec_logout_req(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			  size_t errlen)
{
	struct lun_pdu_logout_req *l = &p->u.logout_req;

	l->reason = b[1] & 0x7f;
	l->itt = lun_get_be32(b + 16);
	l->cid = lun_get_be16(b + 20);
	l->cmdsn = lun_get_be32(b + 24);
	l->expstatsn = lun_get_be32(b + 28);
	return 0;
}

static int enc_logout_req(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			  size_t errlen)
{
	const struct lun_pdu_logout_req *l = &p->u.logout_req;

	if (l->reason > 0x7f)
		return pdu_err_range(nm, "reason code", l->reason, err, errlen);
	b[1] = (uint8_t)(PDU_F | l->reason);
	lun_put_be32(b + 16, l->itt);
	lun_put_be16(b + 20, l->cid);
	lun_put_be32(b + 24, l->cmdsn);
	lun_put_be32(b + 28, l->expstatsn);
	return 0;
}

static int dec_logout_rsp(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
			  size_t errlen)
{
	struct lun_pdu_logout_rsp *l = &p->u.logout_rsp;

	l->response = b[2];
	l->itt = lun_get_be32(b + 16);
	l->statsn = lun_get_be32(b + 24);
	l->expcmdsn = lun_get_be32(b + 28);
	l->maxcmdsn = lun_get_be32(b + 32);
	l->time2wait = lun_get_be16(b + 40);
	l->time2retain = lun_get_be16(b + 42);
	return 0;
}

static int enc_logout_rsp(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
			  size_t errlen)
{
	const struct lun_pdu_logout_rsp *l = &p->u.logout_rsp;

	b[1] = PDU_F;
	b[2] = l->response;
	lun_put_be32(b + 16, l->itt);
	lun_put_be32(b + 24, l->statsn);
	lun_put_be32(b + 28, l->expcmdsn);
	lun_put_be32(b + 32, l->maxcmdsn);
	lun_put_be16(b + 40, l->time2wait);
	lun_put_be16(b + 42, l->time2retain);
	return 0;
}

/* ---- SNACK (RFC 7143 11.16) -------------------------------------------- */

static int dec_snack(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		     size_t errlen)
{
	struct lun_pdu_snack_req *s = &p->u.snack_req;

	s->type = b[1] & 0x0f;
	s->lun = lun_get_be64(b + 8);
	s->itt = lun_get_be32(b + 16);
	s->ttt = lun_get_be32(b + 20);
	s->expstatsn = lun_get_be32(b + 28);
	s->begrun = lun_get_be32(b + 40);
	s->runlength = lun_get_be32(b + 44);
	return 0;
}

static int enc_snack(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		     size_t errlen)
{
	const struct lun_pdu_snack_req *s = &p->u.snack_req;

	if (s->type > 0x0f)
		return pdu_err_range(nm, "type", s->type, err, errlen);
	b[1] = (uint8_t)(PDU_F | s->type);
	lun_put_be64(b + 8, s->lun);
	lun_put_be32(b + 16, s->itt);
	lun_put_be32(b + 20, s->ttt);
	lun_put_be32(b + 28, s->expstatsn);
	lun_put_be32(b + 40, s->begrun);
	lun_put_be32(b + 44, s->runlength);
	return 0;
}

/* ---- R2T (RFC 7143 11.8) ----------------------------------------------- */

static int dec_r2t(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		   size_t errlen)
{
	struct lun_pdu_r2t *r = &p->u.r2t;

	r->lun = lun_get_be64(b + 8);
	r->itt = lun_get_be32(b + 16);
	r->ttt = lun_get_be32(b + 20);
	r->statsn = lun_get_be32(b + 24);
	r->expcmdsn = lun_get_be32(b + 28);
	r->maxcmdsn = lun_get_be32(b + 32);
	r->r2tsn = lun_get_be32(b + 36);
	r->buffer_offset = lun_get_be32(b + 40);
	r->desired_length = lun_get_be32(b + 44);
	/* RFC 7143 11.8.3: the Desired Data Transfer Length must not be 0. */
	if (!r->desired_length) {
		lun_seterr(err, errlen, "%s: Desired Data Transfer Length is 0", nm);
		return -1;
	}
	return 0;
}

static int enc_r2t(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		   size_t errlen)
{
	const struct lun_pdu_r2t *r = &p->u.r2t;

	b[1] = PDU_F;
	lun_put_be64(b + 8, r->lun);
	lun_put_be32(b + 16, r->itt);
	lun_put_be32(b + 20, r->ttt);
	lun_put_be32(b + 24, r->statsn);
	lun_put_be32(b + 28, r->expcmdsn);
	lun_put_be32(b + 32, r->maxcmdsn);
	lun_put_be32(b + 36, r->r2tsn);
	lun_put_be32(b + 40, r->buffer_offset);
	lun_put_be32(b + 44, r->desired_length);
	return 0;
}

/* ---- Asynchronous Message and Reject (RFC 7143 11.9, 11.17) ------------ */

/* Bytes 16-19 of both hold the fixed reserved tag (RFC 7143 11.9, 11.17). */
static int check_rsvd_tag(const uint8_t *b, const char *nm, char *err, size_t errlen)
{
	uint32_t tag = lun_get_be32(b + 16);

	if (tag != LUN_RSVD_TAG) {
		lun_seterr(err, errlen, "%s: bytes 16-19 are 0x%08x, must be 0xffffffff", nm,
			   tag);
		return -1;
	}
	return 0;
}

static int dec_async(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		     size_t errlen)
{
	struct lun_pdu_async *a = &p->u.async;

	if (check_rsvd_tag(b, nm, err, errlen))
		return -1;
	a->lun = lun_get_be64(b + 8);
	a->statsn = lun_get_be32(b + 24);
	a->expcmdsn = lun_get_be32(b + 28);
	a->maxcmdsn = lun_get_be32(b + 32);
	a->event = b[36];
	a->vcode = b[37];
	a->param1 = lun_get_be16(b + 38);
	a->param2 = lun_get_be16(b + 40);
	a->param3 = lun_get_be16(b + 42);
	return 0;
}

static int enc_async(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		     size_t errlen)
{
	const struct lun_pdu_async *a = &p->u.async;

	b[1] = PDU_F;
	lun_put_be64(b + 8, a->lun);
	lun_put_be32(b + 16, LUN_RSVD_TAG);
	lun_put_be32(b + 24, a->statsn);
	lun_put_be32(b + 28, a->expcmdsn);
	lun_put_be32(b + 32, a->maxcmdsn);
	b[36] = a->event;
	b[37] = a->vcode;
	lun_put_be16(b + 38, a->param1);
	lun_put_be16(b + 40, a->param2);
	lun_put_be16(b + 42, a->param3);
	return 0;
}

static int dec_reject(const uint8_t *b, struct lun_pdu *p, const char *nm, char *err,
		      size_t errlen)
{
	struct lun_pdu_reject *r = &p->u.reject;

	if (check_rsvd_tag(b, nm, err, errlen))
		return -1;
	/* RFC 7143 11.17: the data segment is the complete rejected header. */
	if (p->data_len < LUN_BHS_LEN) {
		lun_seterr(err, errlen,
			   "%s: DataSegmentLength %u is shorter than the 48-byte header it "
			   "must carry",
			   nm, p->data_len);
		return -1;
	}
	r->reason = b[2];
	r->statsn = lun_get_be32(b + 24);
	r->expcmdsn = lun_get_be32(b + 28);
	r->maxcmdsn = lun_get_be32(b + 32);
	r->datasn_r2tsn = lun_get_be32(b + 36);
	return 0;
}

static int enc_reject(const struct lun_pdu *p, uint8_t *b, const char *nm, char *err,
		      size_t errlen)
{
	const struct lun_pdu_reject *r = &p->u.reject;

	b[1] = PDU_F;
	b[2] = r->reason;
	lun_put_be32(b + 16, LUN_RSVD_TAG);
	lun_put_be32(b + 24, r->statsn);
	lun_put_be32(b + 28, r->expcmdsn);
	lun_put_be32(b + 32, r->maxcmdsn);
	lun_put_be32(b + 36, r->datasn_r2tsn);
	return 0;
}

/* ---- the opcode table -------------------------------------------------- */

/*
 * Reserved bits and bytes per opcode, from the PDU figures of RFC 7143
 * section 11 (the section is named in each row).  "X or Reserved" fields are
 * left out on purpose, see the comment at the top of the file.
 */
static const struct pdu_op pdu_ops[] = {
	/* RFC 7143 11.18: byte 1 bits 6-0, bytes 2-3 and 32-47 reserved. */
	{ LUN_OP_NOP_OUT, 0x7f, 0, { { 2, 3 }, { 32, 47 } }, "NOP-Out", dec_nop_out,
	  enc_nop_out },
	/* RFC 7143 11.3: byte 1 bits 4-3 and bytes 2-3 reserved. */
	{ LUN_OP_SCSI_CMD, 0x18, 0, { { 2, 3 } }, "SCSI Command", dec_scsi_cmd, enc_scsi_cmd },
	/* RFC 7143 11.5: bytes 2-3 and 40-47 reserved. */
	{ LUN_OP_TMF_REQ, 0, 0, { { 2, 3 }, { 40, 47 } }, "Task Management Function Request",
	  dec_tmf_req, enc_tmf_req },
	/* RFC 7143 11.12: byte 1 bits 5-4, bytes 22-23 and 32-47 reserved. */
	{ LUN_OP_LOGIN_REQ, 0x30, 0, { { 22, 23 }, { 32, 47 } }, "Login Request",
	  dec_login_req, enc_login_req },
	/* RFC 7143 11.10: byte 1 bits 5-0, bytes 2-3 and 32-47 reserved. */
	{ LUN_OP_TEXT_REQ, 0x3f, 0, { { 2, 3 }, { 32, 47 } }, "Text Request", dec_text_req,
	  enc_text_req },
	/* RFC 7143 11.7: byte 1 bits 6-0, bytes 2-3, 24-27, 32-35, 44-47 reserved. */
	{ LUN_OP_DATA_OUT, 0x7f, 0, { { 2, 3 }, { 24, 27 }, { 32, 35 }, { 44, 47 } },
	  "SCSI Data-Out", dec_data_out, enc_data_out },
	/* RFC 7143 11.14: bytes 2-3, 8-15, 22-23, 32-47 reserved; no AHS, no data. */
	{ LUN_OP_LOGOUT_REQ, 0, PDU_NO_AHS | PDU_NO_DATA,
	  { { 2, 3 }, { 8, 15 }, { 22, 23 }, { 32, 47 } }, "Logout Request", dec_logout_req,
	  enc_logout_req },
	/* RFC 7143 11.16: byte 1 bits 6-4, bytes 2-3, 24-27 and 32-39 reserved. */
	{ LUN_OP_SNACK_REQ, 0x70, 0, { { 2, 3 }, { 24, 27 }, { 32, 39 } }, "SNACK Request",
	  dec_snack, enc_snack },
	/* RFC 7143 11.19: byte 1 bits 6-0, bytes 2-3 and 36-47 reserved (LUN unchecked). */
	{ LUN_OP_NOP_IN, 0x7f, 0, { { 2, 3 }, { 36, 47 } }, "NOP-In", dec_nop_in, enc_nop_in },
	/* RFC 7143 11.4: byte 1 bits 6, 5 and 0, bytes 8-15 reserved. */
	{ LUN_OP_SCSI_RSP, 0x61, 0, { { 8, 15 } }, "SCSI Response", dec_scsi_rsp,
	  enc_scsi_rsp },
	/* RFC 7143 11.6: byte 1 bits 6-0, 3, 8-15, 20-23, 36-47 reserved; no AHS/data. */
	{ LUN_OP_TMF_RSP, 0x7f, PDU_NO_AHS | PDU_NO_DATA,
	  { { 3, 3 }, { 8, 15 }, { 20, 23 }, { 36, 47 } }, "Task Management Function Response",
	  dec_tmf_rsp, enc_tmf_rsp },
	/* RFC 7143 11.13: byte 1 bits 5-4, bytes 20-23 and 38-47 reserved. */
	{ LUN_OP_LOGIN_RSP, 0x30, 0, { { 20, 23 }, { 38, 47 } }, "Login Response",
	  dec_login_rsp, enc_login_rsp },
	/* RFC 7143 11.11: byte 1 bits 5-0, bytes 2-3 and 36-47 reserved (LUN unchecked). */
	{ LUN_OP_TEXT_RSP, 0x3f, 0, { { 2, 3 }, { 36, 47 } }, "Text Response", dec_text_rsp,
	  enc_text_rsp },
	/* RFC 7143 11.7: byte 1 bits 5-3 and byte 2 reserved. */
	{ LUN_OP_DATA_IN, 0x38, 0, { { 2, 2 } }, "SCSI Data-In", dec_data_in, enc_data_in },
	/* RFC 7143 11.15: byte 1 bits 6-0, 3, 8-15, 20-23, 36-39, 44-47; no AHS/data. */
	{ LUN_OP_LOGOUT_RSP, 0x7f, PDU_NO_AHS | PDU_NO_DATA,
	  { { 3, 3 }, { 8, 15 }, { 20, 23 }, { 36, 39 }, { 44, 47 } }, "Logout Response",
	  dec_logout_rsp, enc_logout_rsp },
	/* RFC 7143 11.8: byte 1 bits 6-0 and bytes 2-3 reserved; no AHS, no data. */
	{ LUN_OP_R2T, 0x7f, PDU_NO_AHS | PDU_NO_DATA, { { 2, 3 } }, "R2T", dec_r2t, enc_r2t },
	/* RFC 7143 11.9: byte 1 bits 6-0, bytes 2-3, 20-23 and 44-47 reserved; no AHS. */
	{ LUN_OP_ASYNC, 0x7f, PDU_NO_AHS, { { 2, 3 }, { 20, 23 }, { 44, 47 } },
	  "Asynchronous Message", dec_async, enc_async },
	/* RFC 7143 11.17: byte 1 bits 6-0, 3, 8-15, 20-23 and 40-47 reserved; no AHS. */
	{ LUN_OP_REJECT, 0x7f, PDU_NO_AHS, { { 3, 3 }, { 8, 15 }, { 20, 23 }, { 40, 47 } },
	  "Reject", dec_reject, enc_reject },
};

static const struct pdu_op *pdu_find(uint8_t opcode)
{
	for (size_t i = 0; i < sizeof(pdu_ops) / sizeof(pdu_ops[0]); i++)
		if (pdu_ops[i].opcode == opcode)
			return &pdu_ops[i];
	return NULL;
}

const char *lun_pdu_opcode_name(uint8_t opcode)
{
	const struct pdu_op *op = pdu_find(opcode);

	return op ? op->name : "unknown opcode";
}

/* ---- generic decode ----------------------------------------------------- */

static int pdu_check_reserved(const struct pdu_op *op, const uint8_t *b, char *err,
			      size_t errlen)
{
	if (b[1] & op->flags_rsvd) {
		lun_seterr(err, errlen,
			   "%s: reserved bits 0x%02x of flags byte 1 are set, must be 0",
			   op->name, b[1] & op->flags_rsvd);
		return -1;
	}
	for (const struct pdu_range *r = op->rsvd; r < op->rsvd + 5 && r->to; r++)
		for (unsigned i = r->from; i <= r->to; i++)
			if (b[i]) {
				lun_seterr(err, errlen, "%s: reserved byte %u is 0x%02x, must be 0",
					   op->name, i, b[i]);
				return -1;
			}
	return 0;
}

static int pdu_check_lengths(const struct pdu_op *op, const struct lun_pdu *p, char *err,
			     size_t errlen)
{
	/* RFC 7143 11.2.1.5: only SCSI Command defines AHS; these must have none. */
	if ((op->must_zero & PDU_NO_AHS) && p->ahs_len) {
		lun_seterr(err, errlen, "%s: TotalAHSLength is %u bytes, must be 0", op->name,
			   p->ahs_len);
		return -1;
	}
	/* RFC 7143 11.6, 11.8, 11.14, 11.15: these PDUs carry no data segment. */
	if ((op->must_zero & PDU_NO_DATA) && p->data_len) {
		lun_seterr(err, errlen, "%s: DataSegmentLength is %u, must be 0", op->name,
			   p->data_len);
		return -1;
	}
	return 0;
}

/* Byte 0 and the direction: which opcode, who may send it, the I bit. */
static const struct pdu_op *pdu_decode_op(uint8_t b0, enum lun_pdu_dir dir, char *err,
					  size_t errlen)
{
	uint8_t opcode = b0 & 0x3f;
	const struct pdu_op *op = pdu_find(opcode);
	bool target = dir == LUN_FROM_TARGET;

	/* RFC 7143 11.2.1: bit 7 of byte 0 is reserved. */
	if (b0 & 0x80) {
		lun_seterr(err, errlen, "PDU byte 0 is 0x%02x: reserved bit 7 is set", b0);
		return NULL;
	}
	/* RFC 7143 11.2.1.2: opcodes not listed there are not defined. */
	if (!op) {
		lun_seterr(err, errlen, "unknown opcode 0x%02x", opcode);
		return NULL;
	}
	/* RFC 7143 11.2.1.2: targets send 0x20-0x3f, initiators 0x00-0x1f. */
	if (pdu_from_target(opcode) != target) {
		lun_seterr(err, errlen, "unexpected opcode 0x%02x (%s) from %s", opcode, op->name,
			   target ? "a target" : "an initiator");
		return NULL;
	}
	/* RFC 7143 11.2.1.1: the I bit exists only in initiator PDUs. */
	if (target && (b0 & 0x40)) {
		lun_seterr(err, errlen, "%s: the I bit (byte 0 bit 6) is set, but only an "
			   "initiator may set it", op->name);
		return NULL;
	}
	return op;
}

int lun_pdu_decode(const uint8_t bhs[LUN_BHS_LEN], enum lun_pdu_dir dir, struct lun_pdu *p,
		   char *err, size_t errlen)
{
	const struct pdu_op *op;

	memset(p, 0, sizeof(*p));
	op = pdu_decode_op(bhs[0], dir, err, errlen);
	if (!op)
		return -1;
	p->opcode = op->opcode;
	p->immediate = bhs[0] & 0x40;
	p->ahs_len = (uint32_t)bhs[4] * 4u;
	p->data_len = lun_get_be24(bhs + 5);
	if (pdu_check_reserved(op, bhs, err, errlen) || pdu_check_lengths(op, p, err, errlen) ||
	    op->decode(bhs, p, op->name, err, errlen)) {
		memset(p, 0, sizeof(*p));
		return -1;
	}
	return 0;
}

/* ---- generic encode ----------------------------------------------------- */

int lun_pdu_encode(const struct lun_pdu *p, uint8_t bhs[LUN_BHS_LEN], char *err, size_t errlen)
{
	const struct pdu_op *op = pdu_find(p->opcode);

	memset(bhs, 0, LUN_BHS_LEN);
	if (!op) {
		lun_seterr(err, errlen, "cannot encode unknown opcode 0x%02x", p->opcode);
		return -1;
	}
	if (p->data_len > 0xffffffu) {
		lun_seterr(err, errlen, "%s: DataSegmentLength %u does not fit in 24 bits",
			   op->name, p->data_len);
		return -1;
	}
	if (p->ahs_len % 4u || p->ahs_len > 255u * 4u) {
		lun_seterr(err, errlen, "%s: AHS length %u is not a multiple of 4 up to 1020",
			   op->name, p->ahs_len);
		return -1;
	}
	bhs[0] = p->opcode;
	if (p->immediate && !pdu_from_target(p->opcode))
		bhs[0] |= 0x40;
	bhs[4] = (uint8_t)(p->ahs_len / 4u);
	lun_put_be24(bhs + 5, p->data_len);
	if (op->encode(p, bhs, op->name, err, errlen)) {
		memset(bhs, 0, LUN_BHS_LEN);
		return -1;
	}
	return 0;
}

/* ---- Additional Header Segments (RFC 7143 11.2.2) ---------------------- */

#define AHS_MAX_EXT_CDB 244u /* a CDB is at most 260 bytes, 16 are in the BHS */

static int ahs_ext_cdb(const uint8_t *h, uint16_t alen, struct lun_ahs *out, size_t off,
		       char *err, size_t errlen)
{
	/* AHSLength counts the reserved byte 3 plus the CDB bytes beyond 16. */
	size_t n = (size_t)alen - 1;

	/* RFC 7143 11.2.2.3: one Extended CDB AHS at most, 1..244 bytes. */
	if (out->has_ext_cdb || n == 0 || n > AHS_MAX_EXT_CDB) {
		lun_seterr(err, errlen, "AHS at offset %zu: %s extended CDB of %zu bytes", off,
			   out->has_ext_cdb ? "a second" : "an invalid", n);
		return -1;
	}
	memcpy(out->ext_cdb, h + 4, n);
	out->ext_cdb_len = (uint16_t)n;
	out->has_ext_cdb = true;
	return 0;
}

static int ahs_bidi(const uint8_t *h, uint16_t alen, struct lun_ahs *out, size_t off,
		    char *err, size_t errlen)
{
	/* RFC 7143 11.2.2.4: AHSLength is always 5, and it appears once. */
	if (alen != 5 || out->has_bidi_read_length) {
		lun_seterr(err, errlen,
			   "AHS at offset %zu: bidirectional read length AHS with AHSLength %u%s",
			   off, alen, out->has_bidi_read_length ? " appears twice" : ", must be 5");
		return -1;
	}
	out->bidi_read_length = lun_get_be32(h + 4);
	out->has_bidi_read_length = true;
	return 0;
}

/* Checks one AHS header at buf+off; returns its padded size or 0 on error. */
static size_t ahs_frame(const uint8_t *buf, size_t len, size_t off, char *err, size_t errlen)
{
	size_t left = len - off, need, padded;
	uint16_t alen;

	if (left < 4) {
		lun_seterr(err, errlen,
			   "AHS at offset %zu: only %zu bytes left for a 4-byte header", off, left);
		return 0;
	}
	alen = lun_get_be16(buf + off);
	need = 3u + alen;
	padded = (need + 3u) & ~(size_t)3u;
	/* RFC 7143 11.2.2.2: AHSLength includes at least the type-specific byte. */
	if (alen == 0 || padded > left) {
		lun_seterr(err, errlen, "AHS at offset %zu: AHSLength %u %s", off, alen,
			   alen ? "runs past the end of the AHS area" : "is too short");
		return 0;
	}
	/* RFC 7143 11.2.2: padding to the 4-byte boundary is zero. */
	for (size_t i = need; i < padded; i++)
		if (buf[off + i]) {
			lun_seterr(err, errlen, "AHS at offset %zu: padding byte %zu is 0x%02x, "
				   "must be 0", off, i, buf[off + i]);
			return 0;
		}
	return padded;
}

/* One framed AHS: its type, its reserved byte, then the type's own rules. */
static int ahs_one(const uint8_t *h, size_t off, struct lun_ahs *out, char *err, size_t errlen)
{
	uint16_t alen = lun_get_be16(h);

	/* RFC 7143 11.2.2.1: types 1 and 2 are the only ones defined. */
	if (h[2] != LUN_AHS_EXTENDED_CDB && h[2] != LUN_AHS_BIDI_READ_LENGTH) {
		lun_seterr(err, errlen, "AHS at offset %zu: unknown AHS type %u", off, h[2]);
		return -1;
	}
	/* RFC 7143 11.2.2.3/11.2.2.4: the type-specific byte 3 is reserved in both. */
	if (h[3]) {
		lun_seterr(err, errlen, "AHS at offset %zu: reserved byte 3 is 0x%02x, must be 0",
			   off, h[3]);
		return -1;
	}
	if (h[2] == LUN_AHS_EXTENDED_CDB)
		return ahs_ext_cdb(h, alen, out, off, err, errlen);
	return ahs_bidi(h, alen, out, off, err, errlen);
}

int lun_ahs_parse(const uint8_t *buf, size_t len, struct lun_ahs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; off < len;) {
		size_t sz = ahs_frame(buf, len, off, err, errlen);

		if (!sz || ahs_one(buf + off, off, out, err, errlen)) {
			memset(out, 0, sizeof(*out));
			return -1;
		}
		off += sz;
	}
	return 0;
}

size_t lun_ahs_build_ext_cdb(const uint8_t *cdb, size_t cdb_len, uint8_t *out, size_t cap)
{
	size_t n, total;

	if (cdb_len <= 16 || cdb_len > 16 + AHS_MAX_EXT_CDB)
		return 0;
	n = cdb_len - 16;
	total = (n + 4u + 3u) & ~(size_t)3u;
	if (cap < total)
		return 0;
	memset(out, 0, total);
	lun_put_be16(out, (uint16_t)(n + 1));
	out[2] = LUN_AHS_EXTENDED_CDB;
	memcpy(out + 4, cdb + 16, n);
	return total;
}
