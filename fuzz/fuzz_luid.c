/*
 * fuzz_luid.c - LU identity and device names from arbitrary VPD 0x83
 * bytes.  Invariants beyond "no crash": a chosen identifier is one of the
 * page's own LU-associated designators (type, and bytes as a prefix); its
 * hex and name spell exactly its bytes, and the name passes
 * lun_luid_name_valid(); an identifier is the same LU as itself and not as
 * a copy with one byte changed; no identifier means no name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lu_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static struct lun_vpd_ids ids;
static struct lun_luid id, other;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digits[] = "0123456789ABCDEF";
	struct lun_luid_port port;
	char err[256] = "";
	uint8_t *buf = malloc(size ? size : 1);
	size_t i;
	bool found = false;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (lun_luid_from_vpd83(buf, size, &id, err, sizeof(err)) < 0) {
		fz_check(err[0] != '\0');
		fz_check(id.type == -1 && id.name[0] == '\0' && id.hex[0] == '\0');
		fz_check(!lun_luid_same(&id, &id));
		goto out;
	}
	fz_check(lun_parse_vpd_ids(buf, size, &ids, NULL, 0) == 0);
	fz_check(lun_luid_from_ids(&ids, &other) == 0 && lun_luid_same(&id, &other));
	fz_check(id.type == LUN_DESIG_NAA || id.type == LUN_DESIG_EUI64 ||
		 id.type == LUN_DESIG_T10);
	for (i = 0; i < ids.count; i++)
		if (ids.d[i].association == 0 && ids.d[i].type == id.type &&
		    ids.d[i].len >= id.len && memcmp(ids.d[i].value, id.value, id.len) == 0)
			found = true;
	fz_check(found);
	fz_check(strlen(id.hex) == 2u * id.len);
	for (i = 0; i < id.len; i++)
		fz_check(id.hex[2 * i] == digits[id.value[i] >> 4] &&
			 id.hex[2 * i + 1] == digits[id.value[i] & 15]);
	fz_check(strlen(id.name) == 5u + 2 * id.len);
	fz_check(memcmp(id.name + 3, id.hex, 2u * id.len) == 0);
	fz_check(lun_luid_name_valid(id.name));
	fz_check(lun_luid_same(&id, &id));
	other = id;
	other.value[size % id.len] ^= 1;
	fz_check(!lun_luid_same(&id, &other));
	lun_luid_port(&ids, &port);
	fz_check(port.has_tpg || port.tpg == 0);
	fz_check(port.has_rel_port || port.rel_port == 0);
out:
	/* the name check over the raw input as a string */
	{
		char *s = malloc(size + 1);

		if (s) {
			memcpy(s, data, size);
			s[size] = '\0';
			if (lun_luid_name_valid(s))
				fz_check(strncmp(s, "c0t", 3) == 0 && strlen(s) % 2 == 1);
			free(s);
		}
	}
	free(buf);
	return 0;
}
