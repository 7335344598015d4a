/*
 * lu_id.h - floor 4: who a logical unit is, from its VPD 0x83 designators,
 * and the device name that follows from it (`c0t<IDENTIFIER>d0`, as
 * Solaris MPxIO names a scsi_vhci client).  Two paths lead to the same
 * logical unit exactly when their identifiers are equal; that is the whole
 * of multipath grouping.  Pure functions: no I/O, no allocation.
 */
#ifndef LUNARIS_LU_ID_H
#define LUNARIS_LU_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi.h"

#define LUN_LUID_HEX_MAX (2 * 255 + 1)
#define LUN_LUID_NAME_MAX (3 + 2 * 255 + 2 + 1) /* "c0t" HEX "d0" NUL */

struct lun_luid {
	int type; /* LUN_DESIG_NAA, LUN_DESIG_EUI64, LUN_DESIG_T10, or -1: none */
	uint8_t len; /* bytes of value */
	uint8_t value[255];
	char hex[LUN_LUID_HEX_MAX]; /* value as uppercase hex, "" when none */
	char name[LUN_LUID_NAME_MAX]; /* "c0t<hex>d0", "" when none */
};

/*
 * Choose the identifier among the designators associated with the LU
 * itself (not with a port or the target device):
 *   1. NAA, binary: registered extended (6, the 128-bit value) before
 *      registered (5), IEEE extended (2) and locally assigned (3) (the
 *      64-bit value); the first of a rank wins.  Reserved NAA formats and
 *      designators shorter than their format are skipped.
 *   2. EUI-64, binary, 8, 12 or 16 bytes; the first.
 *   3. T10 vendor id (8-byte vendor id + vendor-specific part, usually the
 *      product and serial), at least 8 bytes; all its bytes, hex-encoded,
 *      so that padding and odd characters cannot make two names equal.
 * On well-formed pages this is the identifier lun_vpd_ids_identifier()
 * shows (`lunaris luns`), so the listing and the device name agree.
 * Returns 0, or -1 (out->type -1, empty strings) when there is none: such
 * a LU has no name that two paths could share.
 */
int lun_luid_from_ids(const struct lun_vpd_ids *ids, struct lun_luid *out);

/* Parse a VPD 0x83 page (lun_parse_vpd_ids) and choose as above.  Returns
 * 0; -1 with a sentence in err when the page is malformed or holds no
 * usable identifier. */
int lun_luid_from_vpd83(const uint8_t *buf, size_t len, struct lun_luid *out, char *err,
			size_t errlen);

/* Same logical unit: both identified, same designator type, same bytes. */
bool lun_luid_same(const struct lun_luid *a, const struct lun_luid *b);

/* "NAA", "EUI64", "T10", "none". */
const char *lun_luid_type_str(int type);

/* Whether s is a device name this file could have made: "c0t", an even
 * number (2..510) of uppercase hex digits, "d0".  For names that come from
 * outside (an NBD export name, a command line). */
bool lun_luid_name_valid(const char *s);

/* The port a path goes through, from the same page's port-associated
 * designators (relative target port, target port group), which ALUA
 * states are reported by (alua.h). */
struct lun_luid_port {
	bool has_rel_port, has_tpg;
	uint16_t rel_port, tpg;
};
void lun_luid_port(const struct lun_vpd_ids *ids, struct lun_luid_port *out);

#endif
