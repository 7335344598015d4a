/*
 * lu_id.c - floor 4: logical unit identity and device names (see lu_id.h).
 *
 * The name must be stable for as long as the LU exists (it is what the
 * device cache remembers and what programs open), and equal on every path
 * to the LU.  So it is made only from what the LU says about itself in
 * VPD 0x83 and from nothing about the path: not the target name, the
 * portal or the LUN number, which all differ between paths.
 */
#include "lu_id.h"

#include <string.h>

#include "util.h"

/* Length of the NAA value for its format nibble, or 0 for reserved
 * formats (SPC-4 7.8.6.6). */
static size_t luid_naa_len(uint8_t nibble)
{
	switch (nibble) {
	case 2: /* IEEE extended */
	case 3: /* locally assigned */
	case 5: /* IEEE registered */
		return 8;
	case 6: /* IEEE registered extended */
		return 16;
	default:
		return 0;
	}
}

/* Same order as scsi.c's choice for `lunaris luns`: 6 > 5 > 2 > 3. */
static int luid_naa_rank(uint8_t nibble)
{
	static const int rank[16] = { [6] = 4, [5] = 3, [2] = 2, [3] = 1 };

	return rank[nibble & 0x0f];
}

static void luid_set(struct lun_luid *out, int type, const uint8_t *v, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	out->type = type;
	out->len = (uint8_t)n;
	memcpy(out->value, v, n);
	for (i = 0; i < n; i++) {
		out->hex[2 * i] = digits[v[i] >> 4];
		out->hex[2 * i + 1] = digits[v[i] & 0x0f];
	}
	out->hex[2 * n] = '\0';
	memcpy(out->name, "c0t", 3);
	memcpy(out->name + 3, out->hex, 2 * n);
	memcpy(out->name + 3 + 2 * n, "d0", 3);
}

int lun_luid_from_ids(const struct lun_vpd_ids *ids, struct lun_luid *out)
{
	const struct lun_designator *naa = NULL, *eui = NULL, *t10 = NULL;
	size_t i, naa_len = 0;
	int best = 0;

	memset(out, 0, sizeof(*out));
	out->type = -1;
	for (i = 0; i < ids->count && i < LUN_VPD83_MAX; i++) {
		const struct lun_designator *d = &ids->d[i];

		/* Port and target designators are the same for every LU
		 * behind a port: never an LU identity. */
		if (d->association != 0)
			continue;
		switch (d->type) {
		case LUN_DESIG_NAA: {
			uint8_t nibble = d->len ? d->value[0] >> 4 : 0;
			size_t n = luid_naa_len(nibble);

			if (d->code_set == 1 && n && d->len >= n && luid_naa_rank(nibble) > best) {
				naa = d;
				naa_len = n;
				best = luid_naa_rank(nibble);
			}
			break;
		}
		case LUN_DESIG_EUI64:
			if (!eui && d->code_set == 1 &&
			    (d->len == 8 || d->len == 12 || d->len == 16))
				eui = d;
			break;
		case LUN_DESIG_T10:
			if (!t10 && d->len >= 8)
				t10 = d;
			break;
		}
	}
	if (naa)
		luid_set(out, LUN_DESIG_NAA, naa->value, naa_len);
	else if (eui)
		luid_set(out, LUN_DESIG_EUI64, eui->value, eui->len);
	else if (t10)
		luid_set(out, LUN_DESIG_T10, t10->value, t10->len);
	else
		return -1;
	return 0;
}

int lun_luid_from_vpd83(const uint8_t *buf, size_t len, struct lun_luid *out, char *err,
			size_t errlen)
{
	struct lun_vpd_ids ids;

	memset(out, 0, sizeof(*out));
	out->type = -1;
	if (lun_parse_vpd_ids(buf, len, &ids, err, errlen) < 0)
		return -1;
	if (lun_luid_from_ids(&ids, out) < 0) {
		lun_seterr(err, errlen,
			   "VPD 0x83 has no NAA, EUI-64 or T10 designator for the logical unit "
			   "(%zu designators).",
			   ids.count);
		return -1;
	}
	return 0;
}

bool lun_luid_same(const struct lun_luid *a, const struct lun_luid *b)
{
	/* Two LUs without identifiers are not the same LU: each is exported
	 * on its own path only. */
	if (a->type < 0 || b->type < 0 || a->type != b->type || a->len != b->len || !a->len)
		return false;
	return memcmp(a->value, b->value, a->len) == 0;
}

const char *lun_luid_type_str(int type)
{
	switch (type) {
	case LUN_DESIG_NAA:
		return "NAA";
	case LUN_DESIG_EUI64:
		return "EUI64";
	case LUN_DESIG_T10:
		return "T10";
	default:
		return "none";
	}
}

bool lun_luid_name_valid(const char *s)
{
	size_t n = strnlen(s, LUN_LUID_NAME_MAX), i;

	if (n < 3 + 2 + 2 || n >= LUN_LUID_NAME_MAX)
		return false;
	if (memcmp(s, "c0t", 3) != 0 || memcmp(s + n - 2, "d0", 2) != 0)
		return false;
	if ((n - 5) % 2)
		return false;
	for (i = 3; i < n - 2; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

void lun_luid_port(const struct lun_vpd_ids *ids, struct lun_luid_port *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < ids->count && i < LUN_VPD83_MAX; i++) {
		const struct lun_designator *d = &ids->d[i];

		/* Both are 4 bytes with the number in the last two
		 * (SPC-4 7.8.6.7 and 7.8.6.8), associated with the port. */
		if (d->association != 1 || d->code_set != 1 || d->len != 4)
			continue;
		if (d->type == LUN_DESIG_RELATIVE_PORT && !out->has_rel_port) {
			out->has_rel_port = true;
			out->rel_port = lun_get_be16(d->value + 2);
		} else if (d->type == LUN_DESIG_TPG && !out->has_tpg) {
			out->has_tpg = true;
			out->tpg = lun_get_be16(d->value + 2);
		}
	}
}
