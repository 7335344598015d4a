/*
 * sendtargets.h - floor 2: the SendTargets=All response (RFC 7143 section
 * 12.3 and appendix C): TargetName=... followed by its TargetAddress=...
 * values, for every target.  Pure parser over a joined text data segment.
 */
#ifndef LUNARIS_SENDTARGETS_H
#define LUNARIS_SENDTARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

struct lun_st_portal {
	char host[256]; /* DNS name, IPv4, or IPv6 without brackets */
	uint16_t port; /* 3260 when the response omits it */
	uint16_t tpgt; /* mandatory in SendTargets responses */
};

struct lun_st_target {
	char name[224]; /* iSCSI names are at most 223 bytes */
	size_t nportals;
	struct lun_st_portal *portals;
};

struct lun_st_list {
	size_t count;
	struct lun_st_target *targets;
};

/*
 * Parse the joined data segment(s) of a SendTargets Text Response.  A
 * TargetAddress before any TargetName, a TargetAddress without TPGT, an
 * empty or over-long name, or an unknown key are errors (a sentence in err).
 * A target with no TargetAddress is allowed (the discovery portal serves it).
 * Returns 0 or -1; on -1 `out` is left empty.
 */
int lun_sendtargets_parse(const uint8_t *data, size_t len, struct lun_st_list *out, char *err,
			  size_t errlen);
void lun_st_list_free(struct lun_st_list *l);

#endif
