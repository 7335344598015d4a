/*
 * alua.h - floor 4: asymmetric logical unit access (SPC-4 5.15): the
 * REPORT TARGET PORT GROUPS parameter data, the access states and their
 * names, and the TPGS field of standard INQUIRY data.  Pure functions over
 * byte buffers: no I/O, no allocation.
 *
 * A path (session, LUN) arrives through one relative target port; VPD 0x83
 * names that port and its target port group (lu_id.h, lun_luid_port()),
 * and the report below gives the group's access state.  policy.h ranks
 * paths by that state.
 */
#ifndef LUNARIS_ALUA_H
#define LUNARIS_ALUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Asymmetric access states (4 bits; the other values are reserved). */
enum lun_alua_state {
	LUN_ALUA_ACTIVE_OPTIMIZED = 0x0,
	LUN_ALUA_ACTIVE_NONOPTIMIZED = 0x1,
	LUN_ALUA_STANDBY = 0x2,
	LUN_ALUA_UNAVAILABLE = 0x3,
	LUN_ALUA_LBA_DEPENDENT = 0x4,
	LUN_ALUA_OFFLINE = 0xe,
	LUN_ALUA_TRANSITIONING = 0xf,
};

/* "active/optimized", "active/non-optimized", "standby", "unavailable",
 * "logical block dependent", "offline", "transitioning"; "reserved" for the
 * values SPC-4 leaves open. */
const char *lun_alua_state_str(uint8_t state);

/* Supported-states bits of a descriptor's second byte. */
#define LUN_ALUA_SUP_AO 0x01 /* active/optimized */
#define LUN_ALUA_SUP_AN 0x02 /* active/non-optimized */
#define LUN_ALUA_SUP_S 0x04 /* standby */
#define LUN_ALUA_SUP_U 0x08 /* unavailable */
#define LUN_ALUA_SUP_LBD 0x10 /* logical block dependent */
#define LUN_ALUA_SUP_O 0x40 /* offline */
#define LUN_ALUA_SUP_T 0x80 /* transitioning */

/* The supported states as short tokens, "ao,an,s,u,lbd,o,t" order, or
 * "none"; always terminated. */
void lun_alua_supported_str(uint8_t bits, char *out, size_t cap);

/* Status codes: why the state last changed. */
enum lun_alua_status {
	LUN_ALUA_STATUS_NONE = 0x00,
	LUN_ALUA_STATUS_SET_TPG = 0x01, /* altered by SET TARGET PORT GROUPS */
	LUN_ALUA_STATUS_IMPLICIT = 0x02, /* altered by an implicit transition */
};
const char *lun_alua_status_str(uint8_t status);

/* Ports kept per group and groups kept per report; the counts as the
 * target reported them are kept too, so a caller can tell it saw less. */
#define LUN_ALUA_MAX_PORTS 32
#define LUN_ALUA_MAX_GROUPS 32

struct lun_alua_group {
	uint16_t id; /* target port group */
	uint8_t state; /* enum lun_alua_state, or a reserved value as received */
	bool preferred; /* PREF: the preferred group for this LU */
	uint8_t supported; /* LUN_ALUA_SUP_* */
	uint8_t status; /* enum lun_alua_status */
	uint8_t vendor; /* vendor-specific byte */
	uint8_t port_count; /* as reported */
	uint8_t nports; /* kept, at most LUN_ALUA_MAX_PORTS */
	uint16_t ports[LUN_ALUA_MAX_PORTS]; /* relative target port identifiers */
};

struct lun_alua_report {
	bool extended; /* the data came in the extended header format */
	uint8_t transition_time; /* implicit transition time, seconds (extended only) */
	size_t needed; /* bytes the whole report takes (header + return data) */
	bool truncated; /* the buffer held less than needed: retry with needed */
	size_t total; /* complete descriptors found */
	size_t count; /* descriptors kept, at most LUN_ALUA_MAX_GROUPS */
	struct lun_alua_group g[LUN_ALUA_MAX_GROUPS];
};

/* REPORT TARGET PORT GROUPS CDB asking for the length-only or the
 * extended header format; returns 12. */
size_t lun_alua_cdb_rtpg(uint8_t cdb[16], uint32_t alloc_len, bool extended);

/*
 * Parse REPORT TARGET PORT GROUPS parameter data.  `asked_extended` is the
 * format the CDB asked for: a target that does not know the extended format
 * answers in the length-only one (istgt does), which the data's FORMAT TYPE
 * field then shows.  Data cut short by the allocation length is parsed up
 * to the last complete descriptor, with truncated set and needed telling
 * the size to ask for.  Errors (returns -1, a sentence in err): a buffer
 * shorter than its header, an unknown format type, an extended header whose
 * return data length cannot hold its own fields, a descriptor running past
 * the return data, a group listed twice, a port in two groups.
 */
int lun_alua_parse(const uint8_t *buf, size_t len, bool asked_extended,
		   struct lun_alua_report *out, char *err, size_t errlen);

/* The group with this id, or the group that lists this relative target
 * port; NULL when the report has none. */
const struct lun_alua_group *lun_alua_find_group(const struct lun_alua_report *r, uint16_t id);
const struct lun_alua_group *lun_alua_find_port(const struct lun_alua_report *r,
						uint16_t rel_port);

/* One line: "TPG 1: active/optimized, preferred, supports ao,an, ports 1 2".
 * Always terminated. */
void lun_alua_group_str(const struct lun_alua_group *g, char *out, size_t cap);

/* TPGS field of standard INQUIRY data (byte 5, bits 5-4). */
enum lun_tpgs {
	LUN_TPGS_NONE = 0, /* no asymmetric access: every path is equal */
	LUN_TPGS_IMPLICIT = 1, /* the target changes states itself */
	LUN_TPGS_EXPLICIT = 2, /* only SET TARGET PORT GROUPS changes them */
	LUN_TPGS_BOTH = 3,
};
/* The TPGS field, or -1 when the data is shorter than 6 bytes. */
int lun_alua_tpgs(const uint8_t *inquiry, size_t len);
const char *lun_alua_tpgs_str(int tpgs); /* "none", "implicit", "explicit", "implicit+explicit" */

#endif
