/*
 * isns.c - floor 2: iSNSP (RFC 4171) codec: header, TLV attributes, the
 * requests lunarisd sends and the messages it receives.  See isns.h.
 */
#include "isns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* Names in words                                                      */

const char *lun_isns_status_str(uint32_t status, char *buf, size_t cap)
{
	static const char *const words[] = {
		[LUN_ISNS_OK] = "successful",
		[LUN_ISNS_UNKNOWN_ERROR] = "unknown error",
		[LUN_ISNS_MSG_FORMAT_ERROR] = "message format error",
		[LUN_ISNS_INVALID_REGISTRATION] = "invalid registration",
		[LUN_ISNS_INVALID_QUERY] = "invalid query",
		[LUN_ISNS_SOURCE_UNKNOWN] = "source unknown",
		[LUN_ISNS_SOURCE_ABSENT] = "source absent",
		[LUN_ISNS_SOURCE_UNAUTHORIZED] = "source unauthorized",
		[LUN_ISNS_NO_SUCH_ENTRY] = "no such entry",
		[LUN_ISNS_VERSION_NOT_SUPPORTED] = "version not supported",
		[LUN_ISNS_INTERNAL_ERROR] = "internal error",
		[LUN_ISNS_BUSY] = "busy",
		[LUN_ISNS_OPTION_NOT_UNDERSTOOD] = "option not understood",
		[LUN_ISNS_INVALID_UPDATE] = "invalid update",
		[LUN_ISNS_MSG_NOT_SUPPORTED] = "message not supported",
		[LUN_ISNS_SCN_EVENT_REJECTED] = "SCN event rejected",
		[LUN_ISNS_SCN_REG_REJECTED] = "SCN registration rejected",
		[LUN_ISNS_ATTR_NOT_IMPLEMENTED] = "attribute not implemented",
		[19] = "FC_DOMAIN_ID not available",
		[20] = "FC_DOMAIN_ID not allocated",
		[LUN_ISNS_ESI_NOT_AVAILABLE] = "ESI not available",
		[LUN_ISNS_INVALID_DEREG] = "invalid deregistration",
		[LUN_ISNS_REG_FEATURE_NOT_SUPPORTED] = "registration feature not supported",
	};

	if (status < sizeof(words) / sizeof(words[0]) && words[status])
		return words[status];
	snprintf(buf, cap, "status %u", status);
	return buf;
}

const char *lun_isns_func_str(uint16_t func, char *buf, size_t cap)
{
	static const char *const names[] = {
		[LUN_ISNS_DEV_ATTR_REG] = "DevAttrReg", [LUN_ISNS_DEV_ATTR_QRY] = "DevAttrQry",
		[LUN_ISNS_DEV_GET_NEXT] = "DevGetNext", [LUN_ISNS_DEV_DEREG] = "DevDereg",
		[LUN_ISNS_SCN_REG] = "SCNReg",		[LUN_ISNS_SCN_DEREG] = "SCNDereg",
		[LUN_ISNS_SCN_EVENT] = "SCNEvent",	[LUN_ISNS_SCN] = "SCN",
		[LUN_ISNS_DD_REG] = "DDReg",		[LUN_ISNS_DD_DEREG] = "DDDereg",
		[LUN_ISNS_DDS_REG] = "DDSReg",		[LUN_ISNS_DDS_DEREG] = "DDSDereg",
		[LUN_ISNS_ESI] = "ESI",			[LUN_ISNS_HEARTBEAT] = "Heartbeat",
	};
	uint16_t base = func & (uint16_t)~LUN_ISNS_RESPONSE;

	if (base < sizeof(names) / sizeof(names[0]) && names[base] &&
	    !(base == LUN_ISNS_HEARTBEAT && (func & LUN_ISNS_RESPONSE))) {
		snprintf(buf, cap, "%s%s", names[base], func & LUN_ISNS_RESPONSE ? "Rsp" : "");
		return buf;
	}
	snprintf(buf, cap, "function 0x%04x", func);
	return buf;
}

const char *lun_isns_scn_str(uint32_t bitmap, char *buf, size_t cap)
{
	static const char *const bits[] = {
		"dd-member-added",  "dd-member-removed", "object-updated",
		"object-added",	    "object-removed",	 "management",
		"target-and-self",  "initiator-and-self",
	};
	size_t n = 0;

	if (!cap)
		return buf;
	buf[0] = '\0';
	/* The event bits first: they are what an SCN is about. */
	static const unsigned order[] = { 3, 4, 2, 0, 1, 5, 6, 7 };
	for (size_t k = 0; k < 8; k++) {
		unsigned i = order[k];

		if (bitmap & (1u << i))
			n += (size_t)snprintf(buf + (n < cap ? n : cap - 1), n < cap ? cap - n : 1,
					      "%s%s", n ? "," : "", bits[i]);
	}
	if (bitmap >> 8)
		n += (size_t)snprintf(buf + (n < cap ? n : cap - 1), n < cap ? cap - n : 1,
				      "%sbits 0x%x", n ? "," : "", bitmap >> 8 << 8);
	if (!n)
		snprintf(buf, cap, "none");
	return buf;
}

/* ------------------------------------------------------------------ */
/* Header                                                              */

int lun_isns_hdr_decode(const uint8_t *p, size_t n, struct lun_isns_hdr *h, char *err,
			size_t errlen)
{
	if (n < LUN_ISNS_HDR_LEN) {
		lun_seterr(err, errlen, "iSNS PDU of %zu bytes is shorter than its 12-byte header",
			   n);
		return -1;
	}
	h->version = lun_get_be16(p);
	h->func = lun_get_be16(p + 2);
	h->len = lun_get_be16(p + 4);
	h->flags = lun_get_be16(p + 6);
	h->xid = lun_get_be16(p + 8);
	h->seq = lun_get_be16(p + 10);
	if (h->version != LUN_ISNS_VERSION) {
		lun_seterr(err, errlen, "iSNSP version %u is not supported (only version 1)",
			   h->version);
		return -1;
	}
	if (h->len % 4) {
		lun_seterr(err, errlen, "iSNS PDU length %u is not a multiple of 4", h->len);
		return -1;
	}
	if (h->flags & LUN_ISNS_F_RESERVED) {
		lun_seterr(err, errlen, "iSNS PDU sets reserved flag bits 0x%04x",
			   h->flags & LUN_ISNS_F_RESERVED);
		return -1;
	}
	if (h->flags & LUN_ISNS_F_AUTH) {
		lun_seterr(err, errlen, "iSNS PDU carries an authentication block; iSNS "
					"authentication is not supported");
		return -1;
	}
	return 0;
}

void lun_isns_hdr_encode(uint8_t *p, const struct lun_isns_hdr *h)
{
	lun_put_be16(p, h->version);
	lun_put_be16(p + 2, h->func);
	lun_put_be16(p + 4, h->len);
	lun_put_be16(p + 6, h->flags);
	lun_put_be16(p + 8, h->xid);
	lun_put_be16(p + 10, h->seq);
}

/* ------------------------------------------------------------------ */
/* Attributes                                                          */

int lun_isns_attr_next(const uint8_t *p, size_t n, size_t *off, struct lun_isns_attr *a,
		       char *err, size_t errlen)
{
	size_t o = *off;

	if (o >= n)
		return 0;
	if (n - o < 8) {
		lun_seterr(err, errlen, "iSNS attribute header truncated at byte %zu (%zu bytes "
					"left)", o, n - o);
		return -1;
	}
	a->tag = lun_get_be32(p + o);
	a->len = lun_get_be32(p + o + 4);
	if (a->len % 4) {
		lun_seterr(err, errlen, "iSNS attribute tag %u has length %u, not a multiple of 4",
			   a->tag, a->len);
		return -1;
	}
	if (a->len > n - o - 8) {
		lun_seterr(err, errlen, "iSNS attribute tag %u of %u bytes overruns the message "
					"(%zu bytes left)", a->tag, a->len, n - o - 8);
		return -1;
	}
	a->val = p + o + 8;
	*off = o + 8 + a->len;
	return 1;
}

int lun_isns_attr_string(const struct lun_isns_attr *a, char *buf, size_t cap, char *err,
			 size_t errlen)
{
	const uint8_t *nul;
	size_t sl;

	if (a->len == 0) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	nul = memchr(a->val, 0, a->len);
	if (!nul) {
		lun_seterr(err, errlen, "iSNS attribute tag %u: the string is not NUL-terminated",
			   a->tag);
		return -1;
	}
	sl = (size_t)(nul - a->val);
	for (size_t i = sl; i < a->len; i++)
		if (a->val[i]) {
			lun_seterr(err, errlen, "iSNS attribute tag %u: bytes after the string's "
						"NUL are not NUL padding", a->tag);
			return -1;
		}
	/* Control characters would end up in the daemon's log and history. */
	for (size_t i = 0; i < sl; i++)
		if (a->val[i] < 0x20 || a->val[i] == 0x7f) {
			lun_seterr(err, errlen, "iSNS attribute tag %u: the string holds control "
						"character 0x%02x", a->tag, a->val[i]);
			return -1;
		}
	if (sl >= cap) {
		lun_seterr(err, errlen, "iSNS attribute tag %u: a string of %zu bytes is longer "
					"than %zu", a->tag, sl, cap ? cap - 1 : 0);
		return -1;
	}
	memcpy(buf, a->val, sl);
	buf[sl] = '\0';
	return 0;
}

int lun_isns_attr_u32(const struct lun_isns_attr *a, uint32_t *v, char *err, size_t errlen)
{
	if (a->len != 4) {
		lun_seterr(err, errlen, "iSNS attribute tag %u has %u bytes; a 32-bit value has 4",
			   a->tag, a->len);
		return -1;
	}
	*v = lun_get_be32(a->val);
	return 0;
}

int lun_isns_attr_u64(const struct lun_isns_attr *a, uint64_t *v, char *err, size_t errlen)
{
	if (a->len != 8) {
		lun_seterr(err, errlen, "iSNS attribute tag %u has %u bytes; a 64-bit value has 8",
			   a->tag, a->len);
		return -1;
	}
	*v = lun_get_be64(a->val);
	return 0;
}

int lun_isns_attr_addr(const struct lun_isns_attr *a, char *buf, size_t cap, char *err,
		       size_t errlen)
{
	static const uint8_t zero[12];
	char tmp[INET6_ADDRSTRLEN];
	const uint8_t *v = a->val;

	if (a->len != 16) {
		lun_seterr(err, errlen, "iSNS attribute tag %u has %u bytes; an address has 16",
			   a->tag, a->len);
		return -1;
	}
	if (!memcmp(v, zero, 10) && v[10] == 0xff && v[11] == 0xff) {
		snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", v[12], v[13], v[14], v[15]);
	} else if (!memcmp(v, zero, 12) && (v[12] | v[13] | v[14] || v[15] > 1)) {
		/* ::a.b.c.d; "::" and "::1" stay IPv6 */
		snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", v[12], v[13], v[14], v[15]);
	} else if (!inet_ntop(AF_INET6, v, tmp, sizeof(tmp))) {
		lun_seterr(err, errlen, "iSNS attribute tag %u: cannot format the address", a->tag);
		return -1;
	}
	if (strlen(tmp) >= cap) {
		lun_seterr(err, errlen, "iSNS attribute tag %u: the address %s does not fit", a->tag,
			   tmp);
		return -1;
	}
	strcpy(buf, tmp);
	return 0;
}

int lun_isns_addr_from_string(const char *host, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, host, out) == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */

void lun_isns_begin(struct lun_isns_msg *m, uint16_t func, uint16_t flags, uint16_t xid)
{
	struct lun_isns_hdr h = { LUN_ISNS_VERSION, func, 0, flags, xid, 0 };

	lun_isns_hdr_encode(m->buf, &h);
	m->len = LUN_ISNS_HDR_LEN;
	m->overflow = false;
}

static uint8_t *msg_room(struct lun_isns_msg *m, size_t n)
{
	uint8_t *p;

	if (m->overflow || n > sizeof(m->buf) - m->len) {
		m->overflow = true;
		return NULL;
	}
	p = m->buf + m->len;
	m->len += n;
	return p;
}

static void put_tl(struct lun_isns_msg *m, uint32_t tag, uint32_t len, const void *v, size_t vn)
{
	uint8_t *p = msg_room(m, 8 + (size_t)len);

	if (!p)
		return;
	lun_put_be32(p, tag);
	lun_put_be32(p + 4, len);
	memset(p + 8, 0, len);
	if (vn)
		memcpy(p + 8, v, vn);
}

void lun_isns_put_string(struct lun_isns_msg *m, uint32_t tag, const char *s)
{
	size_t n = strlen(s);

	if (n > LUN_ISNS_MAX_REQ) {
		m->overflow = true;
		return;
	}
	/* NUL-terminated, padded with NULs to the 4-byte boundary */
	put_tl(m, tag, lun_pad4((uint32_t)n + 1), s, n);
}

void lun_isns_put_u32(struct lun_isns_msg *m, uint32_t tag, uint32_t v)
{
	uint8_t b[4];

	lun_put_be32(b, v);
	put_tl(m, tag, 4, b, 4);
}

void lun_isns_put_u64(struct lun_isns_msg *m, uint32_t tag, uint64_t v)
{
	uint8_t b[8];

	lun_put_be64(b, v);
	put_tl(m, tag, 8, b, 8);
}

void lun_isns_put_addr(struct lun_isns_msg *m, uint32_t tag, const uint8_t addr[16])
{
	put_tl(m, tag, 16, addr, 16);
}

void lun_isns_put_nil(struct lun_isns_msg *m, uint32_t tag)
{
	put_tl(m, tag, 0, NULL, 0);
}

void lun_isns_put_raw(struct lun_isns_msg *m, const uint8_t *p, size_t n)
{
	uint8_t *d = msg_room(m, n);

	if (d && n)
		memcpy(d, p, n);
}

int lun_isns_finish(struct lun_isns_msg *m, char *err, size_t errlen)
{
	size_t payload = m->len - LUN_ISNS_HDR_LEN;

	if (m->overflow || payload > LUN_ISNS_MAX_PDU_PAYLOAD || payload % 4) {
		lun_seterr(err, errlen, "the iSNS request does not fit in %d bytes", LUN_ISNS_MAX_REQ);
		return -1;
	}
	lun_put_be16(m->buf + 4, (uint16_t)payload);
	return 0;
}

static int name_check(const char *what, const char *s, size_t max, bool empty_ok, char *err,
		      size_t errlen)
{
	size_t n = strlen(s);

	if ((!n && !empty_ok) || n > max) {
		lun_seterr(err, errlen, "%s of %zu bytes (must be %d..%zu)", what, n, empty_ok ? 0 : 1,
			   max);
		return -1;
	}
	return 0;
}

#define REQ_FLAGS (LUN_ISNS_F_CLIENT | LUN_ISNS_F_FIRST | LUN_ISNS_F_LAST)

int lun_isns_build_reg(struct lun_isns_msg *m, uint16_t xid, const struct lun_isns_reg *r,
		       char *err, size_t errlen)
{
	if (name_check("the iSCSI name", r->source, LUN_ISNS_NAME_MAX, false, err, errlen) ||
	    name_check("the entity identifier", r->eid, LUN_ISNS_EID_MAX, false, err, errlen) ||
	    (r->alias && name_check("the alias", r->alias, 255, true, err, errlen)))
		return -1;
	lun_isns_begin(m, LUN_ISNS_DEV_ATTR_REG,
		       (uint16_t)(REQ_FLAGS | (r->replace ? LUN_ISNS_F_REPLACE : 0)), xid);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, r->source);
	/* The entity is the key: a second registration updates it. */
	lun_isns_put_string(m, LUN_ISNS_TAG_EID, r->eid);
	lun_isns_put_nil(m, LUN_ISNS_TAG_DELIMITER);
	lun_isns_put_string(m, LUN_ISNS_TAG_EID, r->eid);
	lun_isns_put_u32(m, LUN_ISNS_TAG_ENTITY_PROTOCOL, LUN_ISNS_ENTITY_PROTOCOL_ISCSI);
	/* Operating attributes come in object order: the entity, its portal,
	 * then its storage node (RFC 4171 5.6.5.1). */
	if (r->portal_addr) {
		lun_isns_put_addr(m, LUN_ISNS_TAG_PORTAL_IP, r->portal_addr);
		lun_isns_put_u32(m, LUN_ISNS_TAG_PORTAL_PORT, r->portal_port);
		if (r->scn_port)
			lun_isns_put_u32(m, LUN_ISNS_TAG_SCN_PORT, r->scn_port);
	}
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, r->source);
	lun_isns_put_u32(m, LUN_ISNS_TAG_ISCSI_NODE_TYPE, LUN_ISNS_NODE_INITIATOR);
	if (r->alias && r->alias[0])
		lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_ALIAS, r->alias);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_scn_reg(struct lun_isns_msg *m, uint16_t xid, const char *source,
			   uint32_t bitmap, char *err, size_t errlen)
{
	if (name_check("the iSCSI name", source, LUN_ISNS_NAME_MAX, false, err, errlen))
		return -1;
	lun_isns_begin(m, LUN_ISNS_SCN_REG, REQ_FLAGS, xid);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, source);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, source); /* key: the node to notify */
	lun_isns_put_nil(m, LUN_ISNS_TAG_DELIMITER);
	lun_isns_put_u32(m, LUN_ISNS_TAG_ISCSI_SCN_BITMAP, bitmap);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_getnext(struct lun_isns_msg *m, uint16_t xid, const char *source,
			   const char *prev, uint32_t node_type, char *err, size_t errlen)
{
	if (name_check("the iSCSI name", source, LUN_ISNS_NAME_MAX, false, err, errlen) ||
	    name_check("the previous node name", prev, LUN_ISNS_NAME_MAX, true, err, errlen))
		return -1;
	lun_isns_begin(m, LUN_ISNS_DEV_GET_NEXT, REQ_FLAGS, xid);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, source);
	/* key: the node we saw last; zero-length asks for the first one */
	if (prev[0])
		lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, prev);
	else
		lun_isns_put_nil(m, LUN_ISNS_TAG_ISCSI_NAME);
	lun_isns_put_nil(m, LUN_ISNS_TAG_DELIMITER);
	/* Operating attributes with a value scope the walk; zero-length ones
	 * that follow name what to return (RFC 4171 5.6.5.3). */
	if (node_type)
		lun_isns_put_u32(m, LUN_ISNS_TAG_ISCSI_NODE_TYPE, node_type);
	lun_isns_put_nil(m, LUN_ISNS_TAG_ISCSI_NODE_TYPE);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_qry_portals(struct lun_isns_msg *m, uint16_t xid, const char *source,
			       const char *node, char *err, size_t errlen)
{
	if (name_check("the iSCSI name", source, LUN_ISNS_NAME_MAX, false, err, errlen) ||
	    name_check("the node name", node, LUN_ISNS_NAME_MAX, false, err, errlen))
		return -1;
	lun_isns_begin(m, LUN_ISNS_DEV_ATTR_QRY, REQ_FLAGS, xid);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, source);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, node);
	lun_isns_put_nil(m, LUN_ISNS_TAG_DELIMITER);
	/* The portal group objects tie a node to the portals that serve it,
	 * each with its tag: exactly SendTargets' TargetAddress. */
	lun_isns_put_nil(m, LUN_ISNS_TAG_PG_ISCSI_NAME);
	lun_isns_put_nil(m, LUN_ISNS_TAG_PG_PORTAL_IP);
	lun_isns_put_nil(m, LUN_ISNS_TAG_PG_PORTAL_PORT);
	lun_isns_put_nil(m, LUN_ISNS_TAG_PG_TAG);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_dereg(struct lun_isns_msg *m, uint16_t xid, const char *source,
			 const char *eid, char *err, size_t errlen)
{
	if (name_check("the iSCSI name", source, LUN_ISNS_NAME_MAX, false, err, errlen) ||
	    name_check("the entity identifier", eid, LUN_ISNS_EID_MAX, false, err, errlen))
		return -1;
	lun_isns_begin(m, LUN_ISNS_DEV_DEREG, REQ_FLAGS, xid);
	lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, source);
	/* no message key; the operating attribute names what goes */
	lun_isns_put_nil(m, LUN_ISNS_TAG_DELIMITER);
	lun_isns_put_string(m, LUN_ISNS_TAG_EID, eid);
	return lun_isns_finish(m, err, errlen);
}

#define RSP_FLAGS (LUN_ISNS_F_CLIENT | LUN_ISNS_F_FIRST | LUN_ISNS_F_LAST)

static void put_status(struct lun_isns_msg *m, uint32_t status)
{
	uint8_t b[4];

	lun_put_be32(b, status);
	lun_isns_put_raw(m, b, 4);
}

int lun_isns_build_scn_rsp(struct lun_isns_msg *m, uint16_t xid, uint32_t status,
			   const char *dest, char *err, size_t errlen)
{
	if (name_check("the destination name", dest, LUN_ISNS_NAME_MAX, true, err, errlen))
		return -1;
	lun_isns_begin(m, LUN_ISNS_SCN | LUN_ISNS_RESPONSE, RSP_FLAGS, xid);
	put_status(m, status);
	if (dest[0])
		lun_isns_put_string(m, LUN_ISNS_TAG_ISCSI_NAME, dest);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_esi_rsp(struct lun_isns_msg *m, uint16_t xid, uint32_t status,
			   const uint8_t *esi_payload, size_t len, char *err, size_t errlen)
{
	lun_isns_begin(m, LUN_ISNS_ESI | LUN_ISNS_RESPONSE, RSP_FLAGS, xid);
	put_status(m, status);
	lun_isns_put_raw(m, esi_payload, len);
	return lun_isns_finish(m, err, errlen);
}

int lun_isns_build_status_rsp(struct lun_isns_msg *m, uint16_t func, uint16_t xid,
			      uint32_t status, char *err, size_t errlen)
{
	lun_isns_begin(m, (uint16_t)(func | LUN_ISNS_RESPONSE), RSP_FLAGS, xid);
	put_status(m, status);
	return lun_isns_finish(m, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Parsing responses                                                   */

int lun_isns_parse_rsp(uint16_t func, uint16_t req_func, const uint8_t *payload, size_t len,
		       struct lun_isns_rsp *r, char *err, size_t errlen)
{
	char a[32], b[32];

	if (func != (req_func | LUN_ISNS_RESPONSE)) {
		lun_seterr(err, errlen, "expected %s, got %s",
			   lun_isns_func_str((uint16_t)(req_func | LUN_ISNS_RESPONSE), a, sizeof(a)),
			   lun_isns_func_str(func, b, sizeof(b)));
		return -1;
	}
	if (len < 4) {
		lun_seterr(err, errlen, "%s without a status code",
			   lun_isns_func_str(func, a, sizeof(a)));
		return -1;
	}
	r->status = lun_get_be32(payload);
	r->attrs = payload + 4;
	r->attrs_len = len - 4;
	return 0;
}

/* Split a response's attributes at the delimiter: keys before, operating
 * attributes after; both validated as TLVs.  A response without a
 * delimiter has keys only. */
static int split_at_delimiter(const struct lun_isns_rsp *r, size_t *op_off, char *err,
			      size_t errlen)
{
	struct lun_isns_attr a;
	size_t off = 0;
	int rc;

	*op_off = r->attrs_len;
	while ((rc = lun_isns_attr_next(r->attrs, r->attrs_len, &off, &a, err, errlen)) == 1) {
		if (a.tag != LUN_ISNS_TAG_DELIMITER)
			continue;
		if (a.len) {
			lun_seterr(err, errlen, "iSNS delimiter with a %u-byte value", a.len);
			return -1;
		}
		if (*op_off == r->attrs_len)
			*op_off = off;
		else {
			lun_seterr(err, errlen, "iSNS message with two delimiters");
			return -1;
		}
	}
	return rc;
}

static int status_fail(uint16_t func, uint32_t status, char *err, size_t errlen)
{
	char f[32], s[32];

	lun_seterr(err, errlen, "the server refused %s: %s",
		   lun_isns_func_str(func & (uint16_t)~LUN_ISNS_RESPONSE, f, sizeof(f)),
		   lun_isns_status_str(status, s, sizeof(s)));
	return -1;
}

int lun_isns_parse_reg_rsp(uint16_t func, const uint8_t *payload, size_t len, uint32_t *period,
			   char *err, size_t errlen)
{
	struct lun_isns_rsp r;
	struct lun_isns_attr a;
	size_t off = 0, op;
	int rc;

	*period = 0;
	if (lun_isns_parse_rsp(func, LUN_ISNS_DEV_ATTR_REG, payload, len, &r, err, errlen))
		return -1;
	if (r.status != LUN_ISNS_OK)
		return status_fail(func, r.status, err, errlen);
	if (split_at_delimiter(&r, &op, err, errlen))
		return -1;
	off = op;
	while ((rc = lun_isns_attr_next(r.attrs, r.attrs_len, &off, &a, err, errlen)) == 1)
		if (a.tag == LUN_ISNS_TAG_REGISTRATION_PERIOD &&
		    lun_isns_attr_u32(&a, period, err, errlen))
			return -1;
	return rc;
}

int lun_isns_parse_status_rsp(uint16_t func, uint16_t req_func, const uint8_t *payload,
			      size_t len, char *err, size_t errlen)
{
	struct lun_isns_rsp r;
	size_t op;

	if (lun_isns_parse_rsp(func, req_func, payload, len, &r, err, errlen))
		return -1;
	if (r.status != LUN_ISNS_OK)
		return status_fail(func, r.status, err, errlen);
	return split_at_delimiter(&r, &op, err, errlen);
}

int lun_isns_parse_getnext_rsp(uint16_t func, const uint8_t *payload, size_t len, char *name,
			       size_t cap, uint32_t *node_type, char *err, size_t errlen)
{
	struct lun_isns_rsp r;
	struct lun_isns_attr a;
	size_t off = 0, op;
	bool have_name = false;
	int rc;

	*node_type = 0;
	if (lun_isns_parse_rsp(func, LUN_ISNS_DEV_GET_NEXT, payload, len, &r, err, errlen))
		return -1;
	if (r.status == LUN_ISNS_NO_SUCH_ENTRY)
		return 0;
	if (r.status != LUN_ISNS_OK)
		return status_fail(func, r.status, err, errlen);
	if (split_at_delimiter(&r, &op, err, errlen))
		return -1;
	/* The key of the next object: its iSCSI Name. */
	while ((rc = lun_isns_attr_next(r.attrs, op, &off, &a, err, errlen)) == 1) {
		if (a.tag == LUN_ISNS_TAG_DELIMITER)
			break;
		if (a.tag != LUN_ISNS_TAG_ISCSI_NAME || have_name) {
			lun_seterr(err, errlen, "DevGetNextRsp: unexpected key attribute tag %u",
				   a.tag);
			return -1;
		}
		if (lun_isns_attr_string(&a, name, cap, err, errlen))
			return -1;
		have_name = true;
	}
	if (rc < 0)
		return -1;
	if (!have_name || !name[0]) {
		lun_seterr(err, errlen, "DevGetNextRsp without the next node's iSCSI name");
		return -1;
	}
	off = op;
	while ((rc = lun_isns_attr_next(r.attrs, r.attrs_len, &off, &a, err, errlen)) == 1)
		if (a.tag == LUN_ISNS_TAG_ISCSI_NODE_TYPE &&
		    lun_isns_attr_u32(&a, node_type, err, errlen))
			return -1;
	return rc < 0 ? -1 : 1;
}

/* One portal group being read from a DevAttrQryRsp. */
struct pg_acc {
	bool open, has_addr, has_port, has_tag, tag_null, mine;
	struct lun_isns_portal p;
};

static int pg_flush(struct pg_acc *g, struct lun_isns_portal **out, size_t *n, char *err,
		    size_t errlen)
{
	struct lun_isns_portal *v;

	if (!g->open)
		return 0;
	g->open = false;
	if (!g->mine || g->tag_null)
		return 0; /* another node's group, or one that grants no access */
	if (!g->has_addr || !g->has_port || !g->has_tag) {
		lun_seterr(err, errlen, "DevAttrQryRsp: a portal group without its %s",
			   !g->has_addr ? "address" : !g->has_port ? "port" : "tag");
		return -1;
	}
	for (size_t i = 0; i < *n; i++)
		if ((*out)[i].port == g->p.port && (*out)[i].tpgt == g->p.tpgt &&
		    !strcmp((*out)[i].host, g->p.host))
			return 0; /* listed twice */
	if (*n >= 1024) {
		lun_seterr(err, errlen, "DevAttrQryRsp: more than 1024 portal groups");
		return -1;
	}
	v = realloc(*out, (*n + 1) * sizeof(*v));
	if (!v) {
		lun_seterr(err, errlen, "out of memory parsing DevAttrQryRsp");
		return -1;
	}
	*out = v;
	v[(*n)++] = g->p;
	return 0;
}

static int pg_attr(struct pg_acc *g, const struct lun_isns_attr *a, const char *node,
		   struct lun_isns_portal **out, size_t *n, char *err, size_t errlen)
{
	char name[LUN_ISNS_NAME_MAX + 1];
	uint32_t v;

	switch (a->tag) {
	case LUN_ISNS_TAG_PG_ISCSI_NAME:
		/* the first attribute of each portal group object */
		if (pg_flush(g, out, n, err, errlen))
			return -1;
		memset(g, 0, sizeof(*g));
		g->open = true;
		if (lun_isns_attr_string(a, name, sizeof(name), err, errlen))
			return -1;
		g->mine = !strcmp(name, node);
		return 0;
	case LUN_ISNS_TAG_PG_PORTAL_IP:
		if (!g->open || g->has_addr)
			break;
		g->has_addr = true;
		return lun_isns_attr_addr(a, g->p.host, sizeof(g->p.host), err, errlen);
	case LUN_ISNS_TAG_PG_PORTAL_PORT:
		if (!g->open || g->has_port)
			break;
		if (lun_isns_attr_u32(a, &v, err, errlen))
			return -1;
		if (v & LUN_ISNS_PORT_UDP || (v & 0xffff) == 0 || v >> 17) {
			lun_seterr(err, errlen, "DevAttrQryRsp: portal group port value 0x%08x is "
						"not a TCP port", v);
			return -1;
		}
		g->p.port = (uint16_t)v;
		g->has_port = true;
		return 0;
	case LUN_ISNS_TAG_PG_TAG:
		if (!g->open || g->has_tag)
			break;
		g->has_tag = true;
		if (a->len == 0) {
			g->tag_null = true;
			return 0;
		}
		if (lun_isns_attr_u32(a, &v, err, errlen))
			return -1;
		if (v > 65535) {
			lun_seterr(err, errlen, "DevAttrQryRsp: portal group tag %u is over 65535",
				   v);
			return -1;
		}
		g->p.tpgt = (uint16_t)v;
		return 0;
	case LUN_ISNS_TAG_PG_INDEX:
	case LUN_ISNS_TAG_PG_INDEX + 1: /* PG Next-Index */
		if (g->open)
			return 0; /* the server's bookkeeping, not ours */
		/* fall through */
	default:
		/* Other objects' attributes (a server may add the entity, the
		 * node or portals to the answer) are not ours to judge. */
		if (pg_flush(g, out, n, err, errlen))
			return -1;
		return 0;
	}
	lun_seterr(err, errlen, "DevAttrQryRsp: portal group attribute tag %u %s", a->tag,
		   g->open ? "given twice" : "outside a portal group");
	return -1;
}

int lun_isns_parse_portals_rsp(uint16_t func, const uint8_t *payload, size_t len,
			       const char *node, struct lun_isns_portal **out, char *err,
			       size_t errlen)
{
	struct lun_isns_rsp r;
	struct lun_isns_attr a;
	struct pg_acc g = { 0 };
	size_t off, op, n = 0;
	int rc;

	*out = NULL;
	if (lun_isns_parse_rsp(func, LUN_ISNS_DEV_ATTR_QRY, payload, len, &r, err, errlen))
		return -1;
	if (r.status == LUN_ISNS_NO_SUCH_ENTRY)
		return 0;
	if (r.status != LUN_ISNS_OK)
		return status_fail(func, r.status, err, errlen);
	if (split_at_delimiter(&r, &op, err, errlen))
		return -1;
	off = op;
	while ((rc = lun_isns_attr_next(r.attrs, r.attrs_len, &off, &a, err, errlen)) == 1)
		if (pg_attr(&g, &a, node, out, &n, err, errlen))
			goto fail;
	if (rc < 0 || pg_flush(&g, out, &n, err, errlen))
		goto fail;
	return (int)n;
fail:
	free(*out);
	*out = NULL;
	return -1;
}

/* ------------------------------------------------------------------ */
/* SCN and ESI                                                         */

int lun_isns_parse_scn(const uint8_t *payload, size_t len, struct lun_isns_scn *out, char *err,
		       size_t errlen)
{
	struct lun_isns_attr a;
	size_t off = 0;
	unsigned i = 0;
	int rc;
	bool want_name = false;
	uint32_t bitmap = 0;

	memset(out, 0, sizeof(*out));
	while ((rc = lun_isns_attr_next(payload, len, &off, &a, err, errlen)) == 1) {
		if (i == 0) {
			if (a.tag != LUN_ISNS_TAG_ISCSI_NAME) {
				lun_seterr(err, errlen, "SCN: the first attribute is tag %u, not "
							"the destination iSCSI Name", a.tag);
				return -1;
			}
			if (lun_isns_attr_string(&a, out->dest, sizeof(out->dest), err, errlen))
				return -1;
		} else if (i == 1) {
			if (a.tag != LUN_ISNS_TAG_TIMESTAMP) {
				lun_seterr(err, errlen, "SCN: the second attribute is tag %u, not "
							"the Timestamp", a.tag);
				return -1;
			}
			if (lun_isns_attr_u64(&a, &out->timestamp, err, errlen))
				return -1;
		} else if (want_name) {
			char name[LUN_ISNS_NAME_MAX + 1];

			if (a.tag != LUN_ISNS_TAG_ISCSI_NAME) {
				lun_seterr(err, errlen, "SCN: an SCN bitmap is followed by tag %u, "
							"not the iSCSI Name it is about", a.tag);
				return -1;
			}
			if (lun_isns_attr_string(&a, name, sizeof(name), err, errlen))
				return -1;
			if (!name[0]) {
				lun_seterr(err, errlen, "SCN: an event about an empty iSCSI Name");
				return -1;
			}
			if (out->nevents < LUN_ISNS_SCN_MAX_EVENTS) {
				out->ev[out->nevents].bitmap = bitmap;
				memcpy(out->ev[out->nevents].name, name, sizeof(name));
				out->nevents++;
			} else {
				out->more++;
			}
			want_name = false;
		} else if (a.tag == LUN_ISNS_TAG_ISCSI_SCN_BITMAP) {
			if (lun_isns_attr_u32(&a, &bitmap, err, errlen))
				return -1;
			want_name = true;
		} else if (a.tag == LUN_ISNS_TAG_DD_ID || a.tag == LUN_ISNS_TAG_DDS_ID) {
			uint32_t id;

			/* management SCNs name the domain that changed */
			if (out->nevents + out->more == 0) {
				lun_seterr(err, errlen, "SCN: a DD or DDS ID before any event");
				return -1;
			}
			if (lun_isns_attr_u32(&a, &id, err, errlen))
				return -1;
		} else {
			lun_seterr(err, errlen, "SCN: unexpected attribute tag %u", a.tag);
			return -1;
		}
		i++;
	}
	if (rc < 0)
		return -1;
	if (i < 2) {
		lun_seterr(err, errlen, "SCN without its %s", i ? "Timestamp" : "destination");
		return -1;
	}
	if (want_name) {
		lun_seterr(err, errlen, "SCN: the last SCN bitmap names no iSCSI Name");
		return -1;
	}
	if (out->nevents == 0) {
		lun_seterr(err, errlen, "SCN without any event");
		return -1;
	}
	return 0;
}

int lun_isns_parse_esi(const uint8_t *payload, size_t len, struct lun_isns_esi *out, char *err,
		       size_t errlen)
{
	static const uint32_t want[] = { LUN_ISNS_TAG_TIMESTAMP, LUN_ISNS_TAG_EID,
					 LUN_ISNS_TAG_PORTAL_IP, LUN_ISNS_TAG_PORTAL_PORT };
	struct lun_isns_attr a;
	size_t off = 0;
	unsigned i = 0;
	uint32_t port;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = lun_isns_attr_next(payload, len, &off, &a, err, errlen)) == 1) {
		if (i >= 4 || a.tag != want[i]) {
			lun_seterr(err, errlen, "ESI: attribute %u is tag %u; expected Timestamp, "
						"EID, Portal IP Address, Portal Port", i + 1, a.tag);
			return -1;
		}
		switch (i++) {
		case 0: rc = lun_isns_attr_u64(&a, &out->timestamp, err, errlen); break;
		case 1: rc = lun_isns_attr_string(&a, out->eid, sizeof(out->eid), err, errlen); break;
		case 2: rc = lun_isns_attr_addr(&a, out->addr, sizeof(out->addr), err, errlen); break;
		default:
			rc = lun_isns_attr_u32(&a, &port, err, errlen);
			if (!rc && ((port & 0xffff) == 0 || port >> 17)) {
				lun_seterr(err, errlen, "ESI: port value 0x%08x is not a port", port);
				rc = -1;
			}
			out->port = (uint16_t)port;
		}
		if (rc)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (i != 4) {
		lun_seterr(err, errlen, "ESI with %u of its 4 attributes", i);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Multi-PDU messages                                                  */

void lun_isns_reasm_free(struct lun_isns_reasm *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

static int reasm_fail(struct lun_isns_reasm *r, char *err, size_t errlen, const char *fmt,
		      unsigned a, unsigned b)
{
	lun_seterr(err, errlen, fmt, a, b);
	r->active = false;
	r->len = 0;
	return -1;
}

int lun_isns_reasm_add(struct lun_isns_reasm *r, const struct lun_isns_hdr *h,
		       const uint8_t *payload, char *err, size_t errlen)
{
	if (r->done) { /* the previous message was handed out */
		r->done = false;
		r->len = 0;
	}
	if (!r->active) {
		if (!(h->flags & LUN_ISNS_F_FIRST) || h->seq != 0)
			return reasm_fail(r, err, errlen,
					  "iSNS PDU (sequence %u, flags 0x%04x) starts no message: "
					  "the first PDU must be flagged FIRST with sequence 0",
					  h->seq, h->flags);
		r->active = true;
		r->func = h->func;
		r->xid = h->xid;
		r->flags = h->flags;
		r->next_seq = 0;
		r->len = 0;
	} else if (h->func != r->func || h->xid != r->xid) {
		return reasm_fail(r, err, errlen,
				  "iSNS PDU of transaction %u arrived inside the message of "
				  "transaction %u",
				  h->xid, r->xid);
	} else if (h->flags & LUN_ISNS_F_FIRST) {
		return reasm_fail(r, err, errlen,
				  "iSNS PDU flagged FIRST (sequence %u) inside a message of %u "
				  "bytes",
				  h->seq, (unsigned)r->len);
	}
	if (h->seq != r->next_seq || (h->seq == 0xffff && !(h->flags & LUN_ISNS_F_LAST)))
		return reasm_fail(r, err, errlen, "iSNS PDU sequence %u where %u was expected",
				  h->seq, r->next_seq);
	if (h->len > LUN_ISNS_MAX_MSG - r->len)
		return reasm_fail(r, err, errlen, "iSNS message over %u bytes (%u more arrived)",
				  LUN_ISNS_MAX_MSG, h->len);
	if (r->len + h->len > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		uint8_t *b;

		while (cap < r->len + h->len)
			cap *= 2;
		b = realloc(r->buf, cap);
		if (!b)
			return reasm_fail(r, err, errlen, "out of memory joining an iSNS message "
							  "(%u + %u bytes)",
					  (unsigned)r->len, h->len);
		r->buf = b;
		r->cap = cap;
	}
	if (h->len)
		memcpy(r->buf + r->len, payload, h->len);
	r->len += h->len;
	r->next_seq++;
	if (!(h->flags & LUN_ISNS_F_LAST))
		return 0;
	r->active = false;
	r->done = true;
	return 1;
}
