/*
 * text.c - floor 2: iSCSI text key lists and operational key negotiation.
 *
 * The key list is plain malloc'd strings: login and discovery are not on the
 * I/O hot path, and owning copies keeps the callers free of buffer lifetimes.
 * Negotiation is driven by one table (nego_table) so that the per-key rules
 * of RFC 7143 section 13 live in data, not in a chain of strcmp()s.
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* key lists                                                            */
/* ------------------------------------------------------------------ */

void lun_kvlist_init(struct lun_kvlist *l)
{
	l->items = NULL;
	l->count = 0;
	l->cap = 0;
}

static void kv_truncate(struct lun_kvlist *l, size_t keep)
{
	while (l->count > keep) {
		l->count--;
		free(l->items[l->count].key);
		free(l->items[l->count].value);
	}
}

void lun_kvlist_clear(struct lun_kvlist *l)
{
	kv_truncate(l, 0);
}

void lun_kvlist_free(struct lun_kvlist *l)
{
	kv_truncate(l, 0);
	free(l->items);
	lun_kvlist_init(l);
}

static int kv_grow(struct lun_kvlist *l)
{
	size_t ncap = l->cap ? l->cap * 2 : 16;
	struct lun_kv *n;

	if (l->count < l->cap)
		return 0;
	n = realloc(l->items, ncap * sizeof(*n));
	if (!n)
		return -1;
	l->items = n;
	l->cap = ncap;
	return 0;
}

/* Takes ownership of key and value (both freed on failure). */
static int kv_push(struct lun_kvlist *l, char *key, char *value)
{
	if (!key || !value || kv_grow(l) < 0) {
		free(key);
		free(value);
		return -1;
	}
	l->items[l->count].key = key;
	l->items[l->count].value = value;
	l->count++;
	return 0;
}

int lun_kvlist_add(struct lun_kvlist *l, const char *key, const char *value)
{
	return kv_push(l, strdup(key), strdup(value));
}

int lun_kvlist_addf(struct lun_kvlist *l, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return kv_push(l, strdup(key), value);
}

const char *lun_kvlist_get(const struct lun_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

/*
 * RFC 7143 6.1 lists the key characters; '#' is added because the same RFC
 * names public extension keys "X#...", and refusing them would fail a login
 * that a NotUnderstood answer lets continue.
 */
static int kv_key_char_ok(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr(".+@_-#", c) != NULL;
}

/* CHAP challenges and responses are the only binary values big enough to
 * need more than the standard 255 bytes. */
static size_t kv_value_limit(const char *key, size_t keylen)
{
	if ((keylen == 6 && memcmp(key, "CHAP_C", 6) == 0) ||
	    (keylen == 6 && memcmp(key, "CHAP_R", 6) == 0))
		return LUN_VALUE_LARGE_MAX;
	return LUN_VALUE_MAX;
}

/* Check one "key=value" of length n (no NUL inside); returns the key length. */
static int kv_check_pair(const char *p, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', n);
	size_t klen, vlen;

	if (!eq) {
		lun_seterr(err, errlen, "text pair \"%.*s\" has no '='", (int)(n > 64 ? 64 : n), p);
		return -1;
	}
	klen = (size_t)(eq - p);
	vlen = n - klen - 1;
	if (klen == 0 || klen > LUN_KEY_MAX) {
		lun_seterr(err, errlen, "text key of %zu bytes (must be 1..%d)", klen, LUN_KEY_MAX);
		return -1;
	}
	for (size_t i = 0; i < klen; i++) {
		if (!kv_key_char_ok((unsigned char)p[i])) {
			lun_seterr(err, errlen, "text key \"%.*s\" has a forbidden byte 0x%02x",
				   (int)klen, p, (unsigned char)p[i]);
			return -1;
		}
	}
	if (vlen > kv_value_limit(p, klen)) {
		lun_seterr(err, errlen, "value of %.*s is %zu bytes, over the %zu byte limit",
			   (int)klen, p, vlen, kv_value_limit(p, klen));
		return -1;
	}
	return (int)klen;
}

static int kv_add_pair(struct lun_kvlist *l, const char *p, size_t n, char *err, size_t errlen)
{
	int klen = kv_check_pair(p, n, err, errlen);

	if (klen < 0)
		return -1;
	if (kv_push(l, strndup(p, (size_t)klen), strndup(p + klen + 1, n - (size_t)klen - 1))) {
		lun_seterr(err, errlen, "out of memory parsing text keys");
		return -1;
	}
	return 0;
}

/* Everything from pos on must be NUL padding. */
static int kv_only_padding(const uint8_t *data, size_t pos, size_t len)
{
	for (; pos < len; pos++)
		if (data[pos])
			return 0;
	return 1;
}

static int kv_parse_all(struct lun_kvlist *l, const uint8_t *data, size_t len, char *err,
			size_t errlen)
{
	size_t pos = 0;

	while (pos < len) {
		const uint8_t *nul = memchr(data + pos, '\0', len - pos);
		size_t n;

		if (!nul) {
			lun_seterr(err, errlen, "text data does not end with a NUL");
			return -1;
		}
		n = (size_t)(nul - (data + pos));
		if (n == 0) {
			if (kv_only_padding(data, pos, len))
				return 0;
			lun_seterr(err, errlen, "empty text pair at byte %zu", pos);
			return -1;
		}
		if (kv_add_pair(l, (const char *)data + pos, n, err, errlen))
			return -1;
		pos += n + 1;
	}
	return 0;
}

int lun_kvlist_parse(struct lun_kvlist *l, const uint8_t *data, size_t len, char *err,
		     size_t errlen)
{
	size_t before = l->count;

	if (kv_parse_all(l, data, len, err, errlen) == 0)
		return 0;
	/* leave the list as the caller had it */
	kv_truncate(l, before);
	return -1;
}

size_t lun_kvlist_encoded_len(const struct lun_kvlist *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++)
		n += strlen(l->items[i].key) + 1 + strlen(l->items[i].value) + 1;
	return n;
}

size_t lun_kvlist_encode(const struct lun_kvlist *l, uint8_t *buf, size_t cap)
{
	size_t pos = 0;

	if (lun_kvlist_encoded_len(l) > cap)
		return 0;
	for (size_t i = 0; i < l->count; i++) {
		size_t kl = strlen(l->items[i].key), vl = strlen(l->items[i].value);

		memcpy(buf + pos, l->items[i].key, kl);
		buf[pos + kl] = '=';
		memcpy(buf + pos + kl + 1, l->items[i].value, vl);
		buf[pos + kl + 1 + vl] = '\0';
		pos += kl + vl + 2;
	}
	return pos;
}

/* ------------------------------------------------------------------ */
/* the negotiation table                                                */
/* ------------------------------------------------------------------ */

enum nego_type {
	NT_BOOL,
	NT_NUM,
	NT_LIST,
	NT_DECL, /* declarative number */
	NT_STRING,
	NT_SECURITY, /* AuthMethod, CHAP_*: login.c / chap.c */
	NT_IDENTITY, /* TargetName, SessionType...: login.c */
};

enum nego_rule {
	NR_NONE,
	NR_AND,
	NR_OR,
	NR_MIN,
	NR_MAX,
	NR_DECLARE,
	NR_CHOICE, /* first value of the proposer's list the responder accepts */
};

enum nego_sender {
	NS_INITIATOR = 1,
	NS_TARGET = 2,
	NS_BOTH = 3,
};

enum nego_scope {
	NSC_CONN,
	NSC_SESSION,
};

#define NF_LEADING 0x1u /* leading-only: meaningful on the leading connection login */
#define NF_DISCOVERY 0x2u /* allowed (relevant) in a discovery session */
#define NF_OFFER 0x4u /* we offer it in lun_nego_offer */

#define NO_FIELD ((size_t)-1)

struct nego_row {
	const char *name;
	uint8_t type, rule, sender, scope;
	uint8_t flags;
	uint32_t min, max;
	size_t off; /* offsetof(struct lun_params, ...) or NO_FIELD */
};

#define P(f) offsetof(struct lun_params, f)
#define DSL_MAX 16777215u /* 2^24 - 1 */

static const struct nego_row nego_table[] = {
	{ "HeaderDigest", NT_LIST, NR_CHOICE, NS_BOTH, NSC_CONN, NF_DISCOVERY | NF_OFFER, 0, 0,
	  P(header_digest) },
	{ "DataDigest", NT_LIST, NR_CHOICE, NS_BOTH, NSC_CONN, NF_DISCOVERY | NF_OFFER, 0, 0,
	  P(data_digest) },
	{ "MaxRecvDataSegmentLength", NT_DECL, NR_DECLARE, NS_BOTH, NSC_CONN,
	  NF_DISCOVERY | NF_OFFER, 512, DSL_MAX, P(max_send_dsl) },
	{ "MaxConnections", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 1, 65535,
	  P(max_connections) },
	{ "InitialR2T", NT_BOOL, NR_OR, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 0, 1,
	  P(initial_r2t) },
	{ "ImmediateData", NT_BOOL, NR_AND, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 0, 1,
	  P(immediate_data) },
	{ "MaxBurstLength", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 512,
	  DSL_MAX, P(max_burst) },
	{ "FirstBurstLength", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 512,
	  DSL_MAX, P(first_burst) },
	{ "DefaultTime2Wait", NT_NUM, NR_MAX, NS_BOTH, NSC_SESSION,
	  NF_LEADING | NF_DISCOVERY | NF_OFFER, 0, 3600, P(default_time2wait) },
	{ "DefaultTime2Retain", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION,
	  NF_LEADING | NF_DISCOVERY | NF_OFFER, 0, 3600, P(default_time2retain) },
	{ "MaxOutstandingR2T", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 1,
	  65535, P(max_outstanding_r2t) },
	{ "DataPDUInOrder", NT_BOOL, NR_OR, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 0, 1,
	  P(data_pdu_in_order) },
	{ "DataSequenceInOrder", NT_BOOL, NR_OR, NS_BOTH, NSC_SESSION, NF_LEADING | NF_OFFER, 0, 1,
	  P(data_seq_in_order) },
	{ "ErrorRecoveryLevel", NT_NUM, NR_MIN, NS_BOTH, NSC_SESSION,
	  NF_LEADING | NF_DISCOVERY | NF_OFFER, 0, 2, P(erl) },
	/* RFC 3720 markers: never offered, always answered No (RFC 7143 dropped them) */
	{ "IFMarker", NT_BOOL, NR_AND, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 1, NO_FIELD },
	{ "OFMarker", NT_BOOL, NR_AND, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 1, NO_FIELD },
	{ "TargetAlias", NT_STRING, NR_DECLARE, NS_TARGET, NSC_SESSION, NF_DISCOVERY, 0, 0,
	  P(target_alias) },
	{ "TargetPortalGroupTag", NT_DECL, NR_DECLARE, NS_TARGET, NSC_SESSION, NF_DISCOVERY, 0,
	  65535, P(tpgt) },
	{ "InitiatorAlias", NT_STRING, NR_DECLARE, NS_INITIATOR, NSC_SESSION, NF_DISCOVERY, 0, 0,
	  NO_FIELD },
	{ "TargetName", NT_IDENTITY, NR_DECLARE, NS_BOTH, NSC_SESSION, NF_DISCOVERY, 0, 0,
	  NO_FIELD },
	{ "InitiatorName", NT_IDENTITY, NR_DECLARE, NS_INITIATOR, NSC_SESSION, NF_DISCOVERY, 0, 0,
	  NO_FIELD },
	{ "TargetAddress", NT_IDENTITY, NR_DECLARE, NS_TARGET, NSC_SESSION, NF_DISCOVERY, 0, 0,
	  NO_FIELD },
	{ "SessionType", NT_IDENTITY, NR_DECLARE, NS_INITIATOR, NSC_SESSION,
	  NF_LEADING | NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "AuthMethod", NT_SECURITY, NR_CHOICE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "CHAP_A", NT_SECURITY, NR_CHOICE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "CHAP_I", NT_SECURITY, NR_DECLARE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "CHAP_C", NT_SECURITY, NR_DECLARE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "CHAP_N", NT_SECURITY, NR_DECLARE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
	{ "CHAP_R", NT_SECURITY, NR_DECLARE, NS_BOTH, NSC_CONN, NF_DISCOVERY, 0, 0, NO_FIELD },
};

#undef P

#define NEGO_ROWS (sizeof(nego_table) / sizeof(nego_table[0]))
_Static_assert(sizeof(nego_table) / sizeof(nego_table[0]) <= 64, "row bits are a uint64_t");

static int nego_find(const char *key)
{
	for (size_t i = 0; i < NEGO_ROWS; i++)
		if (strcmp(nego_table[i].name, key) == 0)
			return (int)i;
	return -1;
}

static uint64_t row_bit(int i)
{
	return (uint64_t)1 << i;
}

/* Field accessors: the row type tells the width of the field. */
static uint32_t field_get(const struct lun_params *p, const struct nego_row *r)
{
	const unsigned char *b;

	if (r->off == NO_FIELD)
		return 0;
	b = (const unsigned char *)p + r->off;
	if (r->type == NT_BOOL)
		return *(const bool *)(const void *)b;
	if (r->type == NT_LIST)
		return *b;
	if (r->off == offsetof(struct lun_params, tpgt))
		return *(const uint16_t *)(const void *)b;
	return *(const uint32_t *)(const void *)b;
}

static void field_set(struct lun_params *p, const struct nego_row *r, uint32_t v)
{
	unsigned char *b;

	if (r->off == NO_FIELD)
		return;
	b = (unsigned char *)p + r->off;
	if (r->type == NT_BOOL)
		*(bool *)(void *)b = v != 0;
	else if (r->type == NT_LIST)
		*b = (uint8_t)v;
	else if (r->off == offsetof(struct lun_params, tpgt))
		*(uint16_t *)(void *)b = (uint16_t)v;
	else
		*(uint32_t *)(void *)b = v;
}

void lun_params_defaults(struct lun_params *p)
{
	memset(p, 0, sizeof(*p));
	p->header_digest = LUN_DIGEST_NONE;
	p->data_digest = LUN_DIGEST_NONE;
	p->max_recv_dsl = 8192;
	p->max_send_dsl = 8192;
	p->max_connections = 1;
	p->initial_r2t = true;
	p->immediate_data = true;
	p->max_burst = 262144;
	p->first_burst = 65536;
	p->default_time2wait = 2;
	p->default_time2retain = 20;
	p->max_outstanding_r2t = 1;
	p->data_pdu_in_order = true;
	p->data_seq_in_order = true;
	p->erl = 0;
}

/* ------------------------------------------------------------------ */
/* value parsing                                                        */
/* ------------------------------------------------------------------ */

/* RFC 7143 numbers: decimal, or 0x hex; no sign, no spaces, no overflow. */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;
	int digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++, digits++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -1;
		v = v * base + d;
		if (v > UINT32_MAX)
			return -1;
	}
	if (!digits)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, uint32_t *out)
{
	if (strcmp(s, "Yes") == 0)
		*out = 1;
	else if (strcmp(s, "No") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static uint8_t digest_pref(const struct lun_nego *n, const struct nego_row *r)
{
	return r->off == offsetof(struct lun_params, header_digest) ? n->header_pref : n->data_pref;
}

static const char *digest_offer_str(uint8_t pref)
{
	if (pref == LUN_DIGEST_PREF_CRC32C)
		return "CRC32C,None";
	if (pref == LUN_DIGEST_PREF_CRC32C_ONLY)
		return "CRC32C";
	return "None";
}

/* Is a single digest name acceptable under our preference?  -> enum or -1. */
static int digest_accept(uint8_t pref, const char *v, size_t len)
{
	if (len == 6 && memcmp(v, "CRC32C", 6) == 0 && pref != LUN_DIGEST_PREF_NONE)
		return LUN_DIGEST_CRC32C;
	if (len == 4 && memcmp(v, "None", 4) == 0 && pref != LUN_DIGEST_PREF_CRC32C_ONLY)
		return LUN_DIGEST_NONE;
	return -1;
}

/* ------------------------------------------------------------------ */
/* offering                                                             */
/* ------------------------------------------------------------------ */

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Keep our wishes inside the legal ranges, so that every offer is valid and
 * the answer checks compare against what actually went on the wire. */
static void nego_sanitize(struct lun_params *w)
{
	for (size_t i = 0; i < NEGO_ROWS; i++) {
		const struct nego_row *r = &nego_table[i];

		if (r->type == NT_NUM)
			field_set(w, r, clamp_u32(field_get(w, r), r->min, r->max));
	}
	w->max_recv_dsl = clamp_u32(w->max_recv_dsl, 512, DSL_MAX);
	if (w->first_burst > w->max_burst)
		w->first_burst = w->max_burst;
}

void lun_nego_init(struct lun_nego *n, const struct lun_params *want, uint8_t header_pref,
		   uint8_t data_pref, bool discovery)
{
	memset(n, 0, sizeof(*n));
	n->discovery = discovery;
	n->want = *want;
	nego_sanitize(&n->want);
	n->header_pref = header_pref <= LUN_DIGEST_PREF_CRC32C_ONLY ? header_pref : 0;
	n->data_pref = data_pref <= LUN_DIGEST_PREF_CRC32C_ONLY ? data_pref : 0;
}

static int nego_offer_row(const struct lun_nego *n, const struct nego_row *r,
			  struct lun_kvlist *out)
{
	switch (r->type) {
	case NT_LIST:
		return lun_kvlist_add(out, r->name, digest_offer_str(digest_pref(n, r)));
	case NT_BOOL:
		return lun_kvlist_add(out, r->name, field_get(&n->want, r) ? "Yes" : "No");
	case NT_DECL:
		/* our own MaxRecvDataSegmentLength, not the target's (the row's field) */
		return lun_kvlist_addf(out, r->name, "%u", (unsigned)n->want.max_recv_dsl);
	default:
		return lun_kvlist_addf(out, r->name, "%u", (unsigned)field_get(&n->want, r));
	}
}

int lun_nego_offer(struct lun_nego *n, struct lun_kvlist *out)
{
	for (size_t i = 0; i < NEGO_ROWS; i++) {
		const struct nego_row *r = &nego_table[i];
		uint64_t bit = row_bit((int)i);

		if (!(r->flags & NF_OFFER) || (n->discovery && !(r->flags & NF_DISCOVERY)))
			continue;
		if (n->offered & bit)
			continue;
		/* answering the target's proposal already settled it; declarations
		 * are per direction, so ours is still due */
		if ((n->target_offered & bit) && r->rule != NR_DECLARE)
			continue;
		if (nego_offer_row(n, r, out) < 0)
			return -1;
		n->offered |= bit;
		/* a declaration expects no answer */
		if (r->rule == NR_DECLARE)
			n->answered |= bit;
	}
	return 0;
}

bool lun_nego_complete(const struct lun_nego *n)
{
	return (n->offered & ~n->answered) == 0;
}

/* ------------------------------------------------------------------ */
/* receiving                                                            */
/* ------------------------------------------------------------------ */

struct nego_ctx {
	struct lun_nego *n;
	struct lun_params *res;
	struct lun_kvlist *reply;
	char *err;
	size_t errlen;
};

static int reply_add(struct nego_ctx *c, const char *key, const char *value)
{
	if (lun_kvlist_add(c->reply, key, value) == 0)
		return 0;
	lun_seterr(c->err, c->errlen, "out of memory building the negotiation reply");
	return -1;
}

static int is_special(const char *v)
{
	return strcmp(v, "Reject") == 0 || strcmp(v, "Irrelevant") == 0 ||
	       strcmp(v, "NotUnderstood") == 0;
}

/* The target refused or ignored one of our offers: the default stays, unless
 * we cannot run without the offered value (CRC32C required). */
static int nego_answer_special(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	if (r->type == NT_LIST && digest_pref(c->n, r) == LUN_DIGEST_PREF_CRC32C_ONLY) {
		lun_seterr(c->err, c->errlen, "target answered %s=%s, but CRC32C is required",
			   r->name, v);
		return -1;
	}
	return 0;
}

static int nego_answer_list(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	uint8_t pref = digest_pref(c->n, r);
	int d = digest_accept(pref, v, strlen(v));

	if (d < 0) {
		lun_seterr(c->err, c->errlen, "target answered %s=%.80s, not in our offer \"%s\"",
			   r->name, v, digest_offer_str(pref));
		return -1;
	}
	field_set(c->res, r, (uint32_t)d);
	return 0;
}

static uint32_t rule_result(const struct nego_row *r, uint32_t ours, uint32_t theirs)
{
	switch (r->rule) {
	case NR_AND:
		return ours && theirs;
	case NR_OR:
		return ours || theirs;
	case NR_MIN:
		return ours < theirs ? ours : theirs;
	default:
		return ours > theirs ? ours : theirs;
	}
}

static int nego_parse_value(struct nego_ctx *c, const struct nego_row *r, const char *v,
			    uint32_t *out)
{
	int bad = r->type == NT_BOOL ? parse_bool(v, out) : parse_u32(v, out);

	if (!bad && r->type != NT_BOOL && (*out < r->min || *out > r->max))
		bad = -1;
	if (bad) {
		if (r->type == NT_BOOL)
			lun_seterr(c->err, c->errlen, "target sent %s=%.80s, not Yes or No",
				   r->name, v);
		else
			lun_seterr(c->err, c->errlen, "target sent %s=%.80s, outside %u..%u",
				   r->name, v, (unsigned)r->min, (unsigned)r->max);
		return -1;
	}
	return 0;
}

/* The value the target answered must be what the rule yields from our offer
 * and that value (AND/OR), or not beyond our offer (MIN/MAX). */
static int nego_answer_value(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	uint32_t theirs, ours = field_get(&c->n->want, r);

	if (nego_parse_value(c, r, v, &theirs))
		return -1;
	if (rule_result(r, ours, theirs) != theirs) {
		if (r->type == NT_BOOL)
			lun_seterr(c->err, c->errlen, "target answered %s=%.80s to our offer of %s",
				   r->name, v, ours ? "Yes" : "No");
		else
			lun_seterr(c->err, c->errlen,
				   "target answered %s=%.80s, %s our offer of %u", r->name, v,
				   r->rule == NR_MIN ? "above" : "below", (unsigned)ours);
		return -1;
	}
	field_set(c->res, r, theirs);
	return 0;
}

/* Declarations from the target: recorded whether or not we offered anything. */
static int nego_declared(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	uint32_t x;

	if (r->type == NT_STRING) {
		if (r->off != NO_FIELD)
			lun_strlcpy(c->res->target_alias, v, sizeof(c->res->target_alias));
		return 0;
	}
	if (nego_parse_value(c, r, v, &x))
		return -1;
	field_set(c->res, r, x);
	if (r->off == offsetof(struct lun_params, tpgt))
		c->res->tpgt_valid = true;
	return 0;
}

/* Target proposes a digest list: take its first value we accept. */
static int nego_propose_list(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	uint8_t pref = digest_pref(c->n, r);

	for (const char *p = v;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int d = digest_accept(pref, p, len);

		if (d >= 0) {
			field_set(c->res, r, (uint32_t)d);
			return reply_add(c, r->name, d ? "CRC32C" : "None");
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (nego_answer_special(c, r, v))
		return -1;
	return reply_add(c, r->name, "Reject");
}

static int nego_propose_value(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	uint32_t theirs, res;
	char num[16];

	/* an out-of-range proposal is refused, not fatal (RFC 7143 6.2) */
	if (nego_parse_value(c, r, v, &theirs))
		return reply_add(c, r->name, "Reject");
	/* rows without a field (the markers) want No / 0 */
	res = rule_result(r, field_get(&c->n->want, r), theirs);
	field_set(c->res, r, res);
	if (r->type == NT_BOOL)
		return reply_add(c, r->name, res ? "Yes" : "No");
	snprintf(num, sizeof(num), "%u", (unsigned)res);
	return reply_add(c, r->name, num);
}


static int nego_proposal(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	if (!(r->sender & NS_TARGET)) {
		lun_seterr(c->err, c->errlen, "target sent %s, which only an initiator may send",
			   r->name);
		return -1;
	}
	if (c->n->discovery && !(r->flags & NF_DISCOVERY))
		return reply_add(c, r->name, "Irrelevant");
	if (r->type == NT_LIST)
		return nego_propose_list(c, r, v);
	return nego_propose_value(c, r, v);
}

static int nego_answer(struct nego_ctx *c, const struct nego_row *r, const char *v)
{
	if (is_special(v))
		return nego_answer_special(c, r, v);
	if (r->type == NT_LIST)
		return nego_answer_list(c, r, v);
	return nego_answer_value(c, r, v);
}

static int nego_unknown(struct nego_ctx *c, const char *key)
{
	/* answer each unknown key once, even if the target repeats it */
	if (lun_kvlist_get(c->reply, key))
		return 0;
	return reply_add(c, key, "NotUnderstood");
}

static int nego_one(struct nego_ctx *c, const struct lun_kv *kv, uint64_t *seen)
{
	int i = nego_find(kv->key);
	const struct nego_row *r;
	uint64_t bit;

	if (i < 0)
		return nego_unknown(c, kv->key);
	r = &nego_table[i];
	bit = row_bit(i);
	if (r->type == NT_SECURITY || r->type == NT_IDENTITY)
		return 0;
	if (*seen & bit) {
		lun_seterr(c->err, c->errlen, "target sent %s twice in one response", r->name);
		return -1;
	}
	*seen |= bit;
	if (r->rule == NR_DECLARE && (r->sender & NS_TARGET)) {
		/* a declaration cannot be refused; a refusal of ours keeps the default */
		if (is_special(kv->value))
			return 0;
		c->n->target_offered |= bit;
		return nego_declared(c, r, kv->value);
	}
	if ((c->n->offered & bit) && !(c->n->answered & bit)) {
		c->n->answered |= bit;
		return nego_answer(c, r, kv->value);
	}
	if ((c->n->answered | c->n->target_offered) & bit) {
		lun_seterr(c->err, c->errlen, "target negotiated %s a second time", r->name);
		return -1;
	}
	/* a refusal of something the login driver sent: nothing to answer */
	if (is_special(kv->value))
		return 0;
	c->n->target_offered |= bit;
	c->n->answered |= bit;
	return nego_proposal(c, r, kv->value);
}

int lun_nego_receive(struct lun_nego *n, const struct lun_kvlist *in, struct lun_params *result,
		     struct lun_kvlist *reply, char *err, size_t errlen)
{
	struct nego_ctx c = { n, result, reply, err, errlen };
	uint64_t seen = 0;

	for (size_t i = 0; i < in->count; i++)
		if (nego_one(&c, &in->items[i], &seen))
			return -1;
	/* RFC 7143 13.14: FirstBurstLength may not exceed MaxBurstLength */
	if (result->first_burst > result->max_burst)
		result->first_burst = result->max_burst;
	return 0;
}

/* ------------------------------------------------------------------ */
/* TargetAddress                                                        */
/* ------------------------------------------------------------------ */

static int addr_host_char_ok(unsigned char c, bool v6)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	if (c == '.' || c == '-' || c == '_')
		return 1;
	return v6 && (c == ':' || c == '%');
}

/* Decimal 0..max from s[0..len), no sign, at most 5 digits. */
static int addr_number(const char *s, size_t len, uint32_t max, uint16_t *out)
{
	uint32_t v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int addr_copy_host(const char *h, size_t len, bool v6, char *host, size_t hostcap)
{
	if (len == 0 || len >= hostcap)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!addr_host_char_ok((unsigned char)h[i], v6))
			return -1;
	if (v6 && !memchr(h, ':', len))
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	return 0;
}

/* Split "host[:port]" (s[0..len)) into host and port. */
static int addr_host_port(const char *s, size_t len, char *host, size_t hostcap, uint16_t *port)
{
	const char *hend, *colon;
	bool v6 = len && s[0] == '[';

	*port = 3260;
	if (v6) {
		hend = memchr(s, ']', len);
		if (!hend || addr_copy_host(s + 1, (size_t)(hend - s - 1), true, host, hostcap))
			return -1;
		colon = hend + 1 < s + len ? hend + 1 : NULL;
		if (colon && *colon != ':')
			return -1;
	} else {
		colon = memchr(s, ':', len);
		hend = colon ? colon : s + len;
		if (addr_copy_host(s, (size_t)(hend - s), false, host, hostcap))
			return -1;
	}
	if (!colon)
		return 0;
	if (addr_number(colon + 1, (size_t)(s + len - colon - 1), 65535, port) || *port == 0)
		return -1;
	return 0;
}

int lun_parse_target_address(const char *s, char *host, size_t hostcap, uint16_t *port,
			     uint16_t *tpgt, bool *has_tpgt, char *err, size_t errlen)
{
	const char *comma = strrchr(s, ',');
	size_t hp_len = comma ? (size_t)(comma - s) : strlen(s);

	*tpgt = 0;
	*has_tpgt = false;
	if (comma) {
		if (addr_number(comma + 1, strlen(comma + 1), 65535, tpgt)) {
			lun_seterr(err, errlen,
				   "TargetAddress \"%.80s\" has a bad portal group tag", s);
			return -1;
		}
		*has_tpgt = true;
	}
	if (addr_host_port(s, hp_len, host, hostcap, port)) {
		lun_seterr(err, errlen, "TargetAddress \"%.80s\" is not host[:port][,tpgt]", s);
		return -1;
	}
	return 0;
}
