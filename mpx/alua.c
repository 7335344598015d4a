/*
 * alua.c - floor 4: REPORT TARGET PORT GROUPS and the asymmetric access
 * states (SPC-4 5.15, 6.36).
 *
 * Parameter data, length-only format:
 *   0-3  RETURN DATA LENGTH (bytes after this field)
 *   4-   target port group descriptors
 * extended header format:
 *   0-3  RETURN DATA LENGTH
 *   4    FORMAT TYPE (bits 6-4) = 001b
 *   5    IMPLICIT TRANSITION TIME (seconds)
 *   6-7  reserved
 *   8-   target port group descriptors
 * descriptor (8 + 4 * port count bytes):
 *   0    PREF (bit 7), ASYMMETRIC ACCESS STATE (bits 3-0)
 *   1    T_SUP O_SUP - LBD_SUP U_SUP S_SUP AN_SUP AO_SUP
 *   2-3  TARGET PORT GROUP
 *   4    reserved
 *   5    STATUS CODE
 *   6    vendor specific
 *   7    TARGET PORT COUNT
 *   8-   per port: 2 reserved bytes, RELATIVE TARGET PORT IDENTIFIER (2)
 *
 * As in scsi.c, a report cut by the allocation length is not an error (the
 * caller retries with `needed`), but lengths that contradict each other
 * are: a path's access state must never be guessed from a torn record.
 */
#include "alua.h"

#include <stdio.h>
#include <string.h>

#include "scsi.h"
#include "util.h"

const char *lun_alua_state_str(uint8_t state)
{
	switch (state) {
	case LUN_ALUA_ACTIVE_OPTIMIZED:
		return "active/optimized";
	case LUN_ALUA_ACTIVE_NONOPTIMIZED:
		return "active/non-optimized";
	case LUN_ALUA_STANDBY:
		return "standby";
	case LUN_ALUA_UNAVAILABLE:
		return "unavailable";
	case LUN_ALUA_LBA_DEPENDENT:
		return "logical block dependent";
	case LUN_ALUA_OFFLINE:
		return "offline";
	case LUN_ALUA_TRANSITIONING:
		return "transitioning";
	default:
		return "reserved";
	}
}

void lun_alua_supported_str(uint8_t bits, char *out, size_t cap)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} t[] = {
		{ LUN_ALUA_SUP_AO, "ao" }, { LUN_ALUA_SUP_AN, "an" }, { LUN_ALUA_SUP_S, "s" },
		{ LUN_ALUA_SUP_U, "u" },   { LUN_ALUA_SUP_LBD, "lbd" }, { LUN_ALUA_SUP_O, "o" },
		{ LUN_ALUA_SUP_T, "t" },
	};
	size_t i, n = 0;

	if (!cap)
		return;
	out[0] = '\0';
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int w;

		if (!(bits & t[i].bit))
			continue;
		w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", t[i].name);
		if (w < 0 || (size_t)w >= cap - n)
			return; /* cut, but terminated by snprintf */
		n += (size_t)w;
	}
	if (n == 0)
		lun_strlcpy(out, "none", cap);
}

const char *lun_alua_status_str(uint8_t status)
{
	switch (status) {
	case LUN_ALUA_STATUS_NONE:
		return "no status";
	case LUN_ALUA_STATUS_SET_TPG:
		return "altered by SET TARGET PORT GROUPS";
	case LUN_ALUA_STATUS_IMPLICIT:
		return "altered by implicit transition";
	default:
		return "reserved";
	}
}

size_t lun_alua_cdb_rtpg(uint8_t cdb[16], uint32_t alloc_len, bool extended)
{
	size_t n = lun_cdb_report_target_port_groups(cdb, alloc_len);

	/* PARAMETER DATA FORMAT, bits 7-5 of byte 1: 001b asks for the
	 * extended header (with the implicit transition time). */
	if (extended)
		cdb[1] |= 0x20;
	return n;
}

static int alua_check_unique(const struct lun_alua_report *r, const struct lun_alua_group *g,
			     char *err, size_t errlen)
{
	size_t i, j, k;

	for (i = 0; i < r->count; i++) {
		const struct lun_alua_group *o = &r->g[i];

		if (o->id == g->id) {
			lun_seterr(err, errlen, "target port group %u is listed twice.", g->id);
			return -1;
		}
		for (j = 0; j < o->nports; j++)
			for (k = 0; k < g->nports; k++)
				if (o->ports[j] == g->ports[k]) {
					lun_seterr(err, errlen,
						   "relative target port %u is listed in target "
						   "port groups %u and %u.",
						   g->ports[k], o->id, g->id);
					return -1;
				}
	}
	return 0;
}

int lun_alua_parse(const uint8_t *buf, size_t len, bool asked_extended,
		   struct lun_alua_report *out, char *err, size_t errlen)
{
	size_t full, end, off;

	memset(out, 0, sizeof(*out));
	if (len < 4) {
		lun_seterr(err, errlen,
			   "REPORT TARGET PORT GROUPS data of %zu bytes is shorter than its 4-byte "
			   "header.",
			   len);
		return -1;
	}
	full = 4 + (size_t)lun_get_be32(buf);
	out->needed = full;
	out->truncated = full > len;
	end = out->truncated ? len : full;
	off = 4;
	/* Nothing after the length field (an allocation length of 4 asks for
	 * just that): no format to tell, no descriptor, only `needed`. */
	if (asked_extended && end > 4) {
		unsigned format = (buf[4] >> 4) & 0x07;

		if (format > 1) {
			lun_seterr(err, errlen,
				   "REPORT TARGET PORT GROUPS format type %u is neither "
				   "length-only (0) nor extended (1).",
				   format);
			return -1;
		}
		if (format == 1) {
			if (full < 8) {
				lun_seterr(err, errlen,
					   "extended REPORT TARGET PORT GROUPS header claims %zu "
					   "bytes of return data, less than its own 4.",
					   full - 4);
				return -1;
			}
			out->extended = true;
			if (end < 8)
				return 0; /* cut inside the header: truncated */
			out->transition_time = buf[5];
			off = 8;
		}
	}
	while (off < end) {
		struct lun_alua_group g;
		size_t dlen, i;

		if (end - off < 8) {
			if (out->truncated)
				break;
			lun_seterr(err, errlen,
				   "target port group descriptor at offset %zu needs 8 bytes, but "
				   "the return data ends at %zu.",
				   off, end);
			return -1;
		}
		dlen = 8 + 4 * (size_t)buf[off + 7];
		if (end - off < dlen) {
			if (out->truncated)
				break;
			lun_seterr(err, errlen,
				   "target port group descriptor at offset %zu with %u target "
				   "ports needs %zu bytes, but the return data ends at %zu.",
				   off, buf[off + 7], dlen, end);
			return -1;
		}
		memset(&g, 0, sizeof(g));
		g.preferred = (buf[off] & 0x80) != 0;
		g.state = buf[off] & 0x0f;
		g.supported = buf[off + 1] & 0xdf; /* bit 5 is reserved */
		g.id = lun_get_be16(buf + off + 2);
		g.status = buf[off + 5];
		g.vendor = buf[off + 6];
		g.port_count = buf[off + 7];
		for (i = 0; i < g.port_count && i < LUN_ALUA_MAX_PORTS; i++)
			g.ports[g.nports++] = lun_get_be16(buf + off + 8 + 4 * i + 2);
		if (alua_check_unique(out, &g, err, errlen) < 0)
			return -1;
		if (out->count < LUN_ALUA_MAX_GROUPS)
			out->g[out->count++] = g;
		out->total++;
		off += dlen;
	}
	return 0;
}

const struct lun_alua_group *lun_alua_find_group(const struct lun_alua_report *r, uint16_t id)
{
	size_t i;

	for (i = 0; i < r->count && i < LUN_ALUA_MAX_GROUPS; i++)
		if (r->g[i].id == id)
			return &r->g[i];
	return NULL;
}

const struct lun_alua_group *lun_alua_find_port(const struct lun_alua_report *r,
						uint16_t rel_port)
{
	size_t i, j;

	for (i = 0; i < r->count && i < LUN_ALUA_MAX_GROUPS; i++)
		for (j = 0; j < r->g[i].nports && j < LUN_ALUA_MAX_PORTS; j++)
			if (r->g[i].ports[j] == rel_port)
				return &r->g[i];
	return NULL;
}

void lun_alua_group_str(const struct lun_alua_group *g, char *out, size_t cap)
{
	char sup[32];
	size_t n, i;
	int w;

	if (!cap)
		return;
	lun_alua_supported_str(g->supported, sup, sizeof(sup));
	w = snprintf(out, cap, "TPG %u: %s%s, supports %s, ports", g->id,
		     lun_alua_state_str(g->state), g->preferred ? ", preferred" : "", sup);
	if (w < 0 || (size_t)w >= cap)
		return;
	n = (size_t)w;
	for (i = 0; i < g->nports && i < LUN_ALUA_MAX_PORTS; i++) {
		w = snprintf(out + n, cap - n, " %u", g->ports[i]);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
	}
	if (g->port_count > g->nports)
		snprintf(out + n, cap - n, " (+%u more)", g->port_count - g->nports);
	else if (g->port_count == 0)
		snprintf(out + n, cap - n, " none");
}

int lun_alua_tpgs(const uint8_t *inquiry, size_t len)
{
	if (len < 6)
		return -1;
	return (inquiry[5] >> 4) & 0x03;
}

const char *lun_alua_tpgs_str(int tpgs)
{
	switch (tpgs) {
	case LUN_TPGS_NONE:
		return "none";
	case LUN_TPGS_IMPLICIT:
		return "implicit";
	case LUN_TPGS_EXPLICIT:
		return "explicit";
	case LUN_TPGS_BOTH:
		return "implicit+explicit";
	default:
		return "unknown";
	}
}
