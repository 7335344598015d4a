/*
 * chap.h - floor 2: CHAP for the login security stage (RFC 7143 section
 * 12.1.3, RFC 1994), one-way and mutual, with the hash algorithms that the
 * CHAP_A registry defines: 5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256 (hashes
 * from OpenSSL libcrypto).
 *
 * lun_chap_step() is the whole initiator side as a small state machine over
 * key lists: the login driver feeds it each Login Response's keys and sends
 * the keys it produces.  Secrets never leave this file except as digests.
 */
#ifndef LUNARIS_CHAP_H
#define LUNARIS_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

enum lun_chap_alg {
	LUN_CHAP_MD5 = 5,
	LUN_CHAP_SHA1 = 6,
	LUN_CHAP_SHA256 = 7,
	LUN_CHAP_SHA3_256 = 8,
};

#define LUN_CHAP_MAX_ALGS 4
#define LUN_CHAP_MAX_DIGEST 32
#define LUN_CHAP_CHALLENGE_LEN 32 /* our mutual challenge, from RAND_bytes */
#define LUN_CHAP_MIN_CHALLENGE 16 /* refuse shorter target challenges */
#define LUN_CHAP_MAX_CHALLENGE 1024

/* "md5", "sha1", "sha256", "sha3-256" -> alg, or -1. */
int lun_chap_alg_from_name(const char *name);
/* "MD5", "SHA-1", "SHA-256", "SHA3-256", or "unknown". */
const char *lun_chap_alg_name(int alg);
/* Digest length in bytes, 0 for unknown algorithms. */
size_t lun_chap_digest_len(int alg);

/* Parse a comma list "md5,sha256" into algs[] (at most LUN_CHAP_MAX_ALGS,
 * no duplicates).  Returns the count, or -1 with err. */
int lun_chap_parse_alg_list(const char *csv, int *algs, char *err, size_t errlen);

/* CHAP response: H(id || secret || challenge).  Returns digest length or -1. */
int lun_chap_response(int alg, uint8_t id, const uint8_t *secret, size_t secret_len,
		      const uint8_t *challenge, size_t challenge_len, uint8_t *out);

/* Binary values in text keys: "0x" + hex or "0b" + base64 (RFC 7143 6.1).
 * Returns decoded length or -1. */
int lun_chap_decode_binary(const char *s, uint8_t *out, size_t cap);
/* "0x" + lowercase hex; out must hold 2 + 2*len + 1 bytes. */
void lun_chap_encode_hex(const uint8_t *in, size_t len, char *out);

struct lun_chap_cfg {
	const char *user; /* CHAP_N we send */
	const uint8_t *secret; /* our secret (the target checks it) */
	size_t secret_len;
	bool mutual; /* also authenticate the target */
	const char *target_user; /* expected CHAP_N from the target (NULL: any) */
	const uint8_t *target_secret;
	size_t target_secret_len;
	int algs[LUN_CHAP_MAX_ALGS]; /* offered CHAP_A values, in preference order */
	int nalgs;
};

enum lun_chap_state {
	LUN_CHAP_START = 0, /* nothing sent yet */
	LUN_CHAP_SENT_A, /* CHAP_A sent, waiting for CHAP_A/CHAP_I/CHAP_C */
	LUN_CHAP_SENT_R, /* CHAP_N/CHAP_R (and our challenge) sent */
	LUN_CHAP_DONE, /* the target accepted (one-way) or proved itself (mutual) */
};

struct lun_chap {
	enum lun_chap_state state;
	int alg; /* chosen by the target */
	uint8_t my_id;
	uint8_t my_challenge[LUN_CHAP_CHALLENGE_LEN];
	uint8_t target_challenge[LUN_CHAP_MAX_CHALLENGE]; /* kept for reflection checks */
	size_t target_challenge_len;
};

enum lun_chap_result {
	LUN_CHAP_ERROR = -1, /* err says why; the login must fail */
	LUN_CHAP_CONTINUE = 0, /* send `out`, wait for the next response */
	LUN_CHAP_COMPLETE = 1, /* authentication finished on our side */
};

void lun_chap_init(struct lun_chap *c);

/*
 * One step.  `in` is the keys of the last Login Response (NULL on the first
 * call).  Keys to send are appended to `out`.  Errors, each a sentence that
 * names the algorithm where relevant and never contains a secret:
 *   the target chose a CHAP_A we did not offer; a challenge shorter than
 *   LUN_CHAP_MIN_CHALLENGE or malformed; (mutual) the target's CHAP_C equal
 *   to ours (reflection); (mutual) a missing, wrong-length or wrong CHAP_R,
 *   or a CHAP_N that is not target_user.
 */
int lun_chap_step(struct lun_chap *c, const struct lun_chap_cfg *cfg, const struct lun_kvlist *in,
		  struct lun_kvlist *out, char *err, size_t errlen);

#endif
