/*
 * text.h - floor 2: iSCSI text keys (RFC 7143 sections 6 and 13).
 *
 * Two layers:
 *   - lun_kvlist: the key=value<NUL> list carried in the data segment of
 *     Login and Text PDUs (parse, build, encode);
 *   - lun_nego: the operational key negotiation, driven by one table of
 *     keys (type, range or list, who may send it, scope, result rule).
 * The login driver (login.c) owns the security keys (AuthMethod, CHAP_*,
 * see chap.h) and the declarative identity keys (InitiatorName, TargetName,
 * SessionType); lun_nego handles everything else.
 */
#ifndef LUNARIS_TEXT_H
#define LUNARIS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LUN_KEY_MAX 63 /* RFC 7143 6.1: key names are at most 63 bytes */
#define LUN_VALUE_MAX 255 /* standard values; CHAP_C/CHAP_R may be longer */
#define LUN_VALUE_LARGE_MAX 8192 /* binary values (CHAP_C, CHAP_R) */

struct lun_kv {
	char *key;
	char *value;
};

struct lun_kvlist {
	struct lun_kv *items;
	size_t count, cap;
};

void lun_kvlist_init(struct lun_kvlist *l);
void lun_kvlist_free(struct lun_kvlist *l); /* frees items; list is reusable after init */
void lun_kvlist_clear(struct lun_kvlist *l); /* removes items, keeps storage */
int lun_kvlist_add(struct lun_kvlist *l, const char *key, const char *value); /* 0 / -1 (ENOMEM) */
int lun_kvlist_addf(struct lun_kvlist *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* First value for key, or NULL. */
const char *lun_kvlist_get(const struct lun_kvlist *l, const char *key);

/*
 * Parse a data segment: key=value pairs each terminated by NUL.  Appends to l.
 * Rejects: a pair without '=', an empty or over-long key, a key with bytes
 * outside [A-Za-z0-9.+@_-#] (# for the "X#" public extension keys of RFC
 * 7143), a value over its size limit (LUN_VALUE_MAX, LUN_VALUE_LARGE_MAX
 * for CHAP_C and CHAP_R), a missing final NUL
 * (callers join multi-PDU text (C bit) into one buffer first).  Trailing NUL
 * padding is accepted.  Duplicate keys are kept (SendTargets responses
 * repeat TargetName/TargetAddress); lun_nego rejects duplicates it cares
 * about.  Returns 0, or -1 with a sentence in err.
 */
int lun_kvlist_parse(struct lun_kvlist *l, const uint8_t *data, size_t len, char *err,
		     size_t errlen);

/* Bytes lun_kvlist_encode() needs (sum of "key=value\0"). */
size_t lun_kvlist_encoded_len(const struct lun_kvlist *l);
/* Write key=value\0 pairs; returns bytes written, or 0 if cap is too small. */
size_t lun_kvlist_encode(const struct lun_kvlist *l, uint8_t *buf, size_t cap);

enum lun_digest {
	LUN_DIGEST_NONE = 0,
	LUN_DIGEST_CRC32C = 1,
};

/*
 * Operational parameters.  Used twice: as what the initiator wants to offer,
 * and as the values in force after negotiation.
 */
struct lun_params {
	/* connection scope */
	uint8_t header_digest; /* enum lun_digest */
	uint8_t data_digest;
	uint32_t max_recv_dsl; /* our MaxRecvDataSegmentLength (declared by us) */
	uint32_t max_send_dsl; /* the target's MaxRecvDataSegmentLength (declared by it) */
	/* session scope */
	uint32_t max_connections;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_burst;
	uint32_t first_burst;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_seq_in_order;
	uint32_t erl;
	/* informational, from the target */
	char target_alias[LUN_VALUE_MAX + 1];
	uint16_t tpgt;
	bool tpgt_valid;
};

/* RFC 7143 defaults (section 13): MaxRecvDSL 8192, MaxBurst 262144, FirstBurst
 * 65536, InitialR2T Yes, ImmediateData Yes, Time2Wait 2, Time2Retain 20,
 * MaxOutstandingR2T 1, in-order Yes, ERL 0, MaxConnections 1, digests None. */
void lun_params_defaults(struct lun_params *p);

/* What the initiator prefers for digests when it offers them. */
enum lun_digest_pref {
	LUN_DIGEST_PREF_NONE = 0, /* offer "None" */
	LUN_DIGEST_PREF_CRC32C = 1, /* offer "CRC32C,None" */
	LUN_DIGEST_PREF_CRC32C_ONLY = 2, /* offer "CRC32C" */
};

struct lun_nego {
	bool discovery; /* SessionType=Discovery: only connection keys offered */
	struct lun_params want;
	uint8_t header_pref, data_pref; /* enum lun_digest_pref */
	uint64_t offered; /* bit per table row: we offered it */
	uint64_t answered; /* bit per table row: a value is settled */
	uint64_t target_offered; /* bit per row: the target proposed it */
};

void lun_nego_init(struct lun_nego *n, const struct lun_params *want, uint8_t header_pref,
		   uint8_t data_pref, bool discovery);

/* Append our operational offers (each key once per login) to out. */
int lun_nego_offer(struct lun_nego *n, struct lun_kvlist *out);

/*
 * Take the target's keys from one Login/Text Response.  Answers to our
 * offers are checked against the rule for that key (a value outside the
 * offered list or range is an error, "Reject" is an error for a key we
 * require and otherwise leaves the default, "Irrelevant" leaves the default).
 * Keys the target proposes on its own are answered in `reply` by the key's
 * result rule.  Unknown keys are answered "NotUnderstood".  Declarative keys
 * (MaxRecvDataSegmentLength from the target, TargetAlias,
 * TargetPortalGroupTag) are recorded.  Security keys (AuthMethod, CHAP_*)
 * and identity keys (TargetName, InitiatorName, SessionType, TargetAddress)
 * are skipped: the login driver handles them.  `result` must have been
 * initialised with lun_params_defaults() before the first call.
 * Returns 0, or -1 with a sentence in err naming the key and the value.
 */
int lun_nego_receive(struct lun_nego *n, const struct lun_kvlist *in, struct lun_params *result,
		     struct lun_kvlist *reply, char *err, size_t errlen);

/* True when every key we offered has been answered. */
bool lun_nego_complete(const struct lun_nego *n);

/* Parse "host[:port][,tpgt]" (IPv6 hosts in brackets) as TargetAddress values
 * are written; port defaults to 3260, tpgt to 0 (*has_tpgt tells).  Returns
 * 0 or -1 with err. */
int lun_parse_target_address(const char *s, char *host, size_t hostcap, uint16_t *port,
			     uint16_t *tpgt, bool *has_tpgt, char *err, size_t errlen);

#endif
