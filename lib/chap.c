/*
 * chap.c - floor 2: initiator side of iSCSI CHAP (RFC 7143 12.1.3, RFC 1994).
 *
 * Every buffer that holds a secret-derived value (a response we computed or
 * received) is wiped with OPENSSL_cleanse before it goes out of scope, and
 * no error sentence ever quotes a secret, a challenge or a response.
 */
#include "chap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

struct chap_alg_info {
	int alg;
	const char *name; /* as printed */
	const char *cfg_name; /* as configured */
	size_t len;
};

static const struct chap_alg_info chap_algs[] = {
	{ LUN_CHAP_MD5, "MD5", "md5", 16 },
	{ LUN_CHAP_SHA1, "SHA-1", "sha1", 20 },
	{ LUN_CHAP_SHA256, "SHA-256", "sha256", 32 },
	{ LUN_CHAP_SHA3_256, "SHA3-256", "sha3-256", 32 },
};

#define CHAP_NALGS (sizeof(chap_algs) / sizeof(chap_algs[0]))

static const struct chap_alg_info *chap_info(int alg)
{
	for (size_t i = 0; i < CHAP_NALGS; i++)
		if (chap_algs[i].alg == alg)
			return &chap_algs[i];
	return NULL;
}

int lun_chap_alg_from_name(const char *name)
{
	for (size_t i = 0; i < CHAP_NALGS; i++)
		if (strcasecmp(name, chap_algs[i].cfg_name) == 0 ||
		    strcasecmp(name, chap_algs[i].name) == 0)
			return chap_algs[i].alg;
	return -1;
}

const char *lun_chap_alg_name(int alg)
{
	const struct chap_alg_info *a = chap_info(alg);

	return a ? a->name : "unknown";
}

size_t lun_chap_digest_len(int alg)
{
	const struct chap_alg_info *a = chap_info(alg);

	return a ? a->len : 0;
}

static int chap_alg_add(int alg, int *algs, int n, const char *item, char *err, size_t errlen)
{
	if (alg < 0) {
		lun_seterr(err, errlen, "unknown CHAP algorithm \"%.40s\" (md5, sha1, sha256, "
			   "sha3-256)", item);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (algs[i] == alg) {
			lun_seterr(err, errlen, "CHAP algorithm %s listed twice",
				   lun_chap_alg_name(alg));
			return -1;
		}
	}
	if (n >= LUN_CHAP_MAX_ALGS) {
		lun_seterr(err, errlen, "more than %d CHAP algorithms", LUN_CHAP_MAX_ALGS);
		return -1;
	}
	algs[n] = alg;
	return n + 1;
}

int lun_chap_parse_alg_list(const char *csv, int *algs, char *err, size_t errlen)
{
	int n = 0;

	for (const char *p = csv;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[16];

		if (len == 0 || len >= sizeof(item)) {
			lun_seterr(err, errlen, "bad CHAP algorithm list \"%.60s\"", csv);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		n = chap_alg_add(lun_chap_alg_from_name(item), algs, n, item, err, errlen);
		if (n < 0 || !comma)
			return n;
		p = comma + 1;
	}
}

static const EVP_MD *chap_md(int alg)
{
	switch (alg) {
	case LUN_CHAP_MD5:
		return EVP_md5();
	case LUN_CHAP_SHA1:
		return EVP_sha1();
	case LUN_CHAP_SHA256:
		return EVP_sha256();
	case LUN_CHAP_SHA3_256:
		return EVP_sha3_256();
	default:
		return NULL;
	}
}

int lun_chap_response(int alg, uint8_t id, const uint8_t *secret, size_t secret_len,
		      const uint8_t *challenge, size_t challenge_len, uint8_t *out)
{
	const EVP_MD *md = chap_md(alg);
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int ok;

	if (!md || !(ctx = EVP_MD_CTX_new()))
		return -1;
	ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, &id, 1) &&
	     EVP_DigestUpdate(ctx, secret, secret_len) &&
	     EVP_DigestUpdate(ctx, challenge, challenge_len) && EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	return ok && len == lun_chap_digest_len(alg) ? (int)len : -1;
}

/* ------------------------------------------------------------------ */
/* binary values                                                        */
/* ------------------------------------------------------------------ */

static int chap_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An odd digit count means an implied leading zero nibble. */
static int chap_decode_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), outlen = (n + 1) / 2;

	if (n == 0 || outlen > cap)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		size_t hi_pos = 2 * i - (n & 1);
		int hi = (i == 0 && (n & 1)) ? 0 : chap_hex_nibble(s[hi_pos]);
		int lo = chap_hex_nibble(s[hi_pos + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)outlen;
}

static int chap_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 4648 base64; the '=' padding is optional but only at the end. */
static int chap_decode_b64(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n && s[n - 1] == '=')
		n--;
	if (n == 0 || strlen(s) - n > 2 || n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = chap_b64_val(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

int lun_chap_decode_binary(const char *s, uint8_t *out, size_t cap)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return chap_decode_hex(s + 2, out, cap);
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		return chap_decode_b64(s + 2, out, cap);
	return -1;
}

void lun_chap_encode_hex(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = hex[in[i] >> 4];
		out[3 + 2 * i] = hex[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
}

/* ------------------------------------------------------------------ */
/* the state machine                                                    */
/* ------------------------------------------------------------------ */

void lun_chap_init(struct lun_chap *c)
{
	memset(c, 0, sizeof(*c));
	c->state = LUN_CHAP_START;
}

static int chap_offered(const struct lun_chap_cfg *cfg, int alg)
{
	for (int i = 0; i < cfg->nalgs; i++)
		if (cfg->algs[i] == alg)
			return 1;
	return 0;
}

static int chap_check_cfg(const struct lun_chap_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->nalgs < 1 || cfg->nalgs > LUN_CHAP_MAX_ALGS) {
		lun_seterr(err, errlen, "CHAP needs 1..%d algorithms", LUN_CHAP_MAX_ALGS);
		return -1;
	}
	for (int i = 0; i < cfg->nalgs; i++) {
		if (!chap_info(cfg->algs[i])) {
			lun_seterr(err, errlen, "CHAP_A=%d is not a supported algorithm",
				   cfg->algs[i]);
			return -1;
		}
	}
	if (!cfg->user || !cfg->user[0] || !cfg->secret || !cfg->secret_len) {
		lun_seterr(err, errlen, "CHAP needs a user name and a secret");
		return -1;
	}
	if (!cfg->mutual)
		return 0;
	if (!cfg->target_secret || !cfg->target_secret_len) {
		lun_seterr(err, errlen, "mutual CHAP needs a target secret");
		return -1;
	}
	/* RFC 7143 12.1.3: one shared secret both ways lets a target reflect */
	if (cfg->secret_len == cfg->target_secret_len &&
	    CRYPTO_memcmp(cfg->secret, cfg->target_secret, cfg->secret_len) == 0) {
		lun_seterr(err, errlen, "initiator and target CHAP secrets must differ");
		return -1;
	}
	return 0;
}

static int chap_oom(char *err, size_t errlen)
{
	lun_seterr(err, errlen, "out of memory building CHAP keys");
	return LUN_CHAP_ERROR;
}

static void chap_alg_csv(const struct lun_chap_cfg *cfg, char *buf, size_t cap)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < cfg->nalgs && pos < cap; i++)
		pos += (size_t)snprintf(buf + pos, cap - pos, "%s%d", i ? "," : "", cfg->algs[i]);
}

/* START: offer the algorithms; our mutual challenge is drawn now so that a
 * target echoing it back in its own CHAP_C can be caught. */
static int chap_start(struct lun_chap *c, const struct lun_chap_cfg *cfg, struct lun_kvlist *out,
		      char *err, size_t errlen)
{
	char csv[64];

	if (chap_check_cfg(cfg, err, errlen))
		return LUN_CHAP_ERROR;
	if (cfg->mutual && (RAND_bytes(&c->my_id, 1) != 1 ||
			    RAND_bytes(c->my_challenge, sizeof(c->my_challenge)) != 1)) {
		lun_seterr(err, errlen, "no random bytes for the CHAP challenge");
		return LUN_CHAP_ERROR;
	}
	chap_alg_csv(cfg, csv, sizeof(csv));
	if (lun_kvlist_add(out, "CHAP_A", csv))
		return chap_oom(err, errlen);
	c->state = LUN_CHAP_SENT_A;
	return LUN_CHAP_CONTINUE;
}

/* Decimal (or 0x hex) number up to max. */
static int chap_number(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	/* strtoul alone would take signs and leading blanks */
	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoul(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	if (*end || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int chap_take_alg(struct lun_chap *c, const struct lun_chap_cfg *cfg, const char *a,
			 char *err, size_t errlen)
{
	unsigned alg;
	char csv[64];

	if (!a) {
		lun_seterr(err, errlen, "target's CHAP reply lacks CHAP_A");
		return -1;
	}
	if (chap_number(a, 0xffff, &alg) || !chap_offered(cfg, (int)alg)) {
		chap_alg_csv(cfg, csv, sizeof(csv));
		lun_seterr(err, errlen, "target chose CHAP_A=%.20s (%s), but we offered only %s", a,
			   chap_number(a, 0xffff, &alg) ? "unknown" : lun_chap_alg_name((int)alg),
			   csv);
		return -1;
	}
	c->alg = (int)alg;
	return 0;
}

static int chap_take_challenge(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			       const char *cc, char *err, size_t errlen)
{
	int n;

	if (!cc) {
		lun_seterr(err, errlen, "target's CHAP reply lacks CHAP_C");
		return -1;
	}
	n = lun_chap_decode_binary(cc, c->target_challenge, sizeof(c->target_challenge));
	if (n < 0) {
		lun_seterr(err, errlen, "target's CHAP_C is malformed or over %d bytes",
			   LUN_CHAP_MAX_CHALLENGE);
		return -1;
	}
	c->target_challenge_len = (size_t)n;
	if (n < LUN_CHAP_MIN_CHALLENGE) {
		lun_seterr(err, errlen,
			   "target's CHAP_C is %d bytes, shorter than the %d we require", n,
			   LUN_CHAP_MIN_CHALLENGE);
		return -1;
	}
	if (cfg->mutual && (size_t)n == sizeof(c->my_challenge) &&
	    CRYPTO_memcmp(c->target_challenge, c->my_challenge, (size_t)n) == 0) {
		lun_seterr(err, errlen, "target's CHAP_C reflects our own challenge");
		return -1;
	}
	return 0;
}

/* Our CHAP_N/CHAP_R and, for mutual CHAP, our CHAP_I/CHAP_C. */
static int chap_emit_response(struct lun_chap *c, const struct lun_chap_cfg *cfg, uint8_t id,
			      struct lun_kvlist *out, char *err, size_t errlen)
{
	uint8_t dig[LUN_CHAP_MAX_DIGEST];
	char hex[2 + 2 * LUN_CHAP_CHALLENGE_LEN + 1];
	int n = lun_chap_response(c->alg, id, cfg->secret, cfg->secret_len, c->target_challenge,
				  c->target_challenge_len, dig);
	int rc = -1;

	if (n < 0) {
		lun_seterr(err, errlen, "%s is not available from libcrypto",
			   lun_chap_alg_name(c->alg));
		return -1;
	}
	lun_chap_encode_hex(dig, (size_t)n, hex);
	if (lun_kvlist_add(out, "CHAP_N", cfg->user) || lun_kvlist_add(out, "CHAP_R", hex))
		goto out;
	if (cfg->mutual) {
		lun_chap_encode_hex(c->my_challenge, sizeof(c->my_challenge), hex);
		if (lun_kvlist_addf(out, "CHAP_I", "%u", (unsigned)c->my_id) ||
		    lun_kvlist_add(out, "CHAP_C", hex))
			goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(dig, sizeof(dig));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc)
		chap_oom(err, errlen);
	return rc;
}

static int chap_on_challenge(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			     const struct lun_kvlist *in, struct lun_kvlist *out, char *err,
			     size_t errlen)
{
	const char *id_s = lun_kvlist_get(in, "CHAP_I");
	unsigned id;

	if (chap_take_alg(c, cfg, lun_kvlist_get(in, "CHAP_A"), err, errlen))
		return LUN_CHAP_ERROR;
	if (!id_s || chap_number(id_s, 255, &id)) {
		lun_seterr(err, errlen, "target's CHAP_I is %s", id_s ? "not 0..255" : "missing");
		return LUN_CHAP_ERROR;
	}
	if (chap_take_challenge(c, cfg, lun_kvlist_get(in, "CHAP_C"), err, errlen))
		return LUN_CHAP_ERROR;
	if (chap_emit_response(c, cfg, (uint8_t)id, out, err, errlen))
		return LUN_CHAP_ERROR;
	c->state = LUN_CHAP_SENT_R;
	return LUN_CHAP_CONTINUE;
}

/* Name the algorithm that does give this length: a common interop bug is a
 * target that negotiates one CHAP_A but hashes with another. */
static void chap_length_error(int alg, int got, char *err, size_t errlen)
{
	const char *hint = NULL;

	for (size_t i = 0; i < CHAP_NALGS && !hint; i++)
		if ((int)chap_algs[i].len == got)
			hint = chap_algs[i].name;
	if (hint)
		lun_seterr(err, errlen, "target's CHAP_R is %d bytes, %s gives %zu: the target may "
			   "implement CHAP_A=%d as %s", got, lun_chap_alg_name(alg),
			   lun_chap_digest_len(alg), alg, hint);
	else
		lun_seterr(err, errlen, "target's CHAP_R is %d bytes, %s gives %zu", got,
			   lun_chap_alg_name(alg), lun_chap_digest_len(alg));
}

static int chap_check_name(const struct lun_chap_cfg *cfg, const char *name, char *err,
			   size_t errlen)
{
	if (!name) {
		lun_seterr(err, errlen, "target did not send CHAP_N for mutual CHAP");
		return -1;
	}
	if (cfg->target_user && strcmp(name, cfg->target_user) != 0) {
		lun_seterr(err, errlen, "target sent CHAP_N=%.64s, expected %.64s", name,
			   cfg->target_user);
		return -1;
	}
	return 0;
}

/* Mutual: the target must prove it knows target_secret for our challenge. */
static int chap_verify_target(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			      const struct lun_kvlist *in, char *err, size_t errlen)
{
	/* room for any plausible CHAP_R, so that a wrong length can be reported */
	uint8_t got[LUN_CHAP_MAX_CHALLENGE], want[LUN_CHAP_MAX_DIGEST];
	const char *r = lun_kvlist_get(in, "CHAP_R");
	int n, wn, rc = -1;

	if (chap_check_name(cfg, lun_kvlist_get(in, "CHAP_N"), err, errlen))
		return -1;
	if (!r) {
		lun_seterr(err, errlen, "target did not send CHAP_R for mutual CHAP");
		return -1;
	}
	n = lun_chap_decode_binary(r, got, sizeof(got));
	wn = lun_chap_response(c->alg, c->my_id, cfg->target_secret, cfg->target_secret_len,
			       c->my_challenge, sizeof(c->my_challenge), want);
	if (n < 0)
		lun_seterr(err, errlen, "target's CHAP_R is malformed");
	else if (wn < 0)
		lun_seterr(err, errlen, "%s is not available from libcrypto",
			   lun_chap_alg_name(c->alg));
	else if (n != wn)
		chap_length_error(c->alg, n, err, errlen);
	else if (CRYPTO_memcmp(got, want, (size_t)n) != 0)
		lun_seterr(err, errlen, "target's CHAP_R (%s) is wrong: it does not know the "
			   "target secret", lun_chap_alg_name(c->alg));
	else
		rc = 0;
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

static int chap_on_result(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			  const struct lun_kvlist *in, char *err, size_t errlen)
{
	if (cfg->mutual) {
		if (!in) {
			lun_seterr(err, errlen, "no target response to verify for mutual CHAP");
			return LUN_CHAP_ERROR;
		}
		if (chap_verify_target(c, cfg, in, err, errlen))
			return LUN_CHAP_ERROR;
	}
	c->state = LUN_CHAP_DONE;
	OPENSSL_cleanse(c->my_challenge, sizeof(c->my_challenge));
	return LUN_CHAP_COMPLETE;
}

int lun_chap_step(struct lun_chap *c, const struct lun_chap_cfg *cfg, const struct lun_kvlist *in,
		  struct lun_kvlist *out, char *err, size_t errlen)
{
	switch (c->state) {
	case LUN_CHAP_START:
		return chap_start(c, cfg, out, err, errlen);
	case LUN_CHAP_SENT_A:
		if (!in) {
			lun_seterr(err, errlen, "no target response to our CHAP_A");
			return LUN_CHAP_ERROR;
		}
		return chap_on_challenge(c, cfg, in, out, err, errlen);
	case LUN_CHAP_SENT_R:
		return chap_on_result(c, cfg, in, err, errlen);
	case LUN_CHAP_DONE:
		return LUN_CHAP_COMPLETE;
	}
	lun_seterr(err, errlen, "CHAP state machine in an impossible state");
	return LUN_CHAP_ERROR;
}
