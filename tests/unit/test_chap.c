/*
 * test_chap.c - CHAP known answers, binary value codecs and the initiator
 * state machine, one-way and mutual (the test plays the target).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "chap.h"

static const uint8_t isecret[] = "initiator-secret";
static const uint8_t tsecret[] = "target-secret-42";
#define ISECRET_LEN (sizeof(isecret) - 1)
#define TSECRET_LEN (sizeof(tsecret) - 1)

static void fill_challenge(uint8_t *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c[i] = (uint8_t)i;
}

/* Expected values from:
 * python3 -c "import hashlib;d=bytes([0x2a])+b'initiator-secret'+bytes(range(16));
 *   [print(a,hashlib.new(a,d).hexdigest()) for a in ('md5','sha1','sha256','sha3_256')]" */
static void check_known(int alg, const char *want_hex)
{
	uint8_t ch[16], out[LUN_CHAP_MAX_DIGEST];
	char hex[2 + 2 * LUN_CHAP_MAX_DIGEST + 1];
	int n;

	fill_challenge(ch, sizeof(ch));
	n = lun_chap_response(alg, 0x2a, isecret, ISECRET_LEN, ch, sizeof(ch), out);
	assert_int_equal(n, (int)lun_chap_digest_len(alg));
	lun_chap_encode_hex(out, (size_t)n, hex);
	assert_string_equal(hex + 2, want_hex);
}

static void test_known_answers(void **state)
{
	(void)state;
	check_known(LUN_CHAP_MD5, "146466a8b34b56526e0619fa9872f517");
	check_known(LUN_CHAP_SHA1, "8656fe2c8d6474d022f9a59d40527d180e1e9776");
	check_known(LUN_CHAP_SHA256,
		    "c44227375bb64ad56d55fa56b9b06a4a43eff4f90ddc9a38d36491a68a948df6");
	check_known(LUN_CHAP_SHA3_256,
		    "84795c0d3f3d36a02341873be13cced088fa7f19d1e7b5064405e564ad7ff2f0");
	assert_int_equal(lun_chap_response(9, 1, isecret, 1, isecret, 1, NULL), -1);
}

static void test_alg_names(void **state)
{
	int algs[LUN_CHAP_MAX_ALGS];
	char err[128];

	(void)state;
	assert_int_equal(lun_chap_alg_from_name("md5"), 5);
	assert_int_equal(lun_chap_alg_from_name("SHA1"), 6);
	assert_int_equal(lun_chap_alg_from_name("sha256"), 7);
	assert_int_equal(lun_chap_alg_from_name("sha3-256"), 8);
	assert_int_equal(lun_chap_alg_from_name("sha512"), -1);
	assert_string_equal(lun_chap_alg_name(7), "SHA-256");
	assert_string_equal(lun_chap_alg_name(99), "unknown");
	assert_int_equal(lun_chap_digest_len(5), 16);
	assert_int_equal(lun_chap_digest_len(6), 20);
	assert_int_equal(lun_chap_digest_len(8), 32);
	assert_int_equal(lun_chap_digest_len(0), 0);

	assert_int_equal(lun_chap_parse_alg_list("sha256,md5", algs, err, sizeof(err)), 2);
	assert_int_equal(algs[0], 7);
	assert_int_equal(algs[1], 5);
	assert_int_equal(lun_chap_parse_alg_list("md5,sha1,sha256,sha3-256", algs, err,
						 sizeof(err)), 4);
	assert_int_equal(algs[3], 8);
	assert_int_equal(lun_chap_parse_alg_list("md5,md5", algs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(lun_chap_parse_alg_list("md5,,sha1", algs, err, sizeof(err)), -1);
	assert_int_equal(lun_chap_parse_alg_list("", algs, err, sizeof(err)), -1);
	assert_int_equal(lun_chap_parse_alg_list("md4", algs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "md4"));
}

static void test_binary_codecs(void **state)
{
	uint8_t out[64], want[16];
	char hex[2 + 2 * 16 + 1];

	(void)state;
	fill_challenge(want, sizeof(want));
	/* python3 -c "import base64;print(base64.b64encode(bytes(range(16))).decode())" */
	assert_int_equal(lun_chap_decode_binary("0bAAECAwQFBgcICQoLDA0ODw==", out, sizeof(out)),
			 16);
	assert_memory_equal(out, want, 16);
	/* the same without padding */
	assert_int_equal(lun_chap_decode_binary("0BAAECAwQFBgcICQoLDA0ODw", out, sizeof(out)), 16);
	assert_memory_equal(out, want, 16);
	/* base64 of ff fe 00 10 20 */
	assert_int_equal(lun_chap_decode_binary("0b//4AECA=", out, sizeof(out)), 5);
	assert_memory_equal(out, "\xff\xfe\x00\x10\x20", 5);
	assert_int_equal(lun_chap_decode_binary("0b//4A=ECA", out, sizeof(out)), -1);
	assert_int_equal(lun_chap_decode_binary("0bA", out, sizeof(out)), -1);
	assert_int_equal(lun_chap_decode_binary("0b", out, sizeof(out)), -1);

	lun_chap_encode_hex(want, 16, hex);
	assert_string_equal(hex, "0x000102030405060708090a0b0c0d0e0f");
	assert_int_equal(lun_chap_decode_binary(hex, out, sizeof(out)), 16);
	assert_memory_equal(out, want, 16);
	assert_int_equal(lun_chap_decode_binary("0XABcd", out, sizeof(out)), 2);
	assert_memory_equal(out, "\xab\xcd", 2);
	/* odd digit count: implied leading zero */
	assert_int_equal(lun_chap_decode_binary("0xabc", out, sizeof(out)), 2);
	assert_memory_equal(out, "\x0a\xbc", 2);
	assert_int_equal(lun_chap_decode_binary("0xzz", out, sizeof(out)), -1);
	assert_int_equal(lun_chap_decode_binary("0x", out, sizeof(out)), -1);
	assert_int_equal(lun_chap_decode_binary("abcd", out, sizeof(out)), -1);
	assert_int_equal(lun_chap_decode_binary("0xabcdef", out, 2), -1);
}

/* ---- helpers that play the target ---- */

static struct lun_chap_cfg oneway_cfg(void)
{
	struct lun_chap_cfg cfg = { 0 };

	cfg.user = "iqn.2024-01.test:init";
	cfg.secret = isecret;
	cfg.secret_len = ISECRET_LEN;
	cfg.algs[0] = LUN_CHAP_SHA256;
	cfg.algs[1] = LUN_CHAP_MD5;
	cfg.nalgs = 2;
	return cfg;
}

static struct lun_chap_cfg mutual_cfg(void)
{
	struct lun_chap_cfg cfg = oneway_cfg();

	cfg.mutual = true;
	cfg.target_user = "tgt-user";
	cfg.target_secret = tsecret;
	cfg.target_secret_len = TSECRET_LEN;
	return cfg;
}

/* Independent of lun_chap_response: straight EVP calls. */
static void test_hash(const EVP_MD *md, uint8_t id, const uint8_t *s, size_t sl,
		      const uint8_t *c, size_t cl, uint8_t *out, unsigned *outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, md, NULL), 1);
	EVP_DigestUpdate(ctx, &id, 1);
	EVP_DigestUpdate(ctx, s, sl);
	EVP_DigestUpdate(ctx, c, cl);
	assert_int_equal(EVP_DigestFinal_ex(ctx, out, outlen), 1);
	EVP_MD_CTX_free(ctx);
}

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	assert_true(s[0] == '0' && s[1] == 'x');
	for (s += 2; s[0] && s[1]; s += 2) {
		unsigned v;

		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void target_challenge_keys(struct lun_kvlist *in, const char *alg, const char *id,
				  size_t clen)
{
	uint8_t ch[64];
	char hex[2 + 2 * 64 + 1];

	fill_challenge(ch, clen);
	lun_chap_encode_hex(ch, clen, hex);
	lun_kvlist_clear(in);
	assert_int_equal(lun_kvlist_add(in, "CHAP_A", alg), 0);
	assert_int_equal(lun_kvlist_add(in, "CHAP_I", id), 0);
	assert_int_equal(lun_kvlist_add(in, "CHAP_C", hex), 0);
}

static void run_to_sent_a(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			  struct lun_kvlist *out)
{
	char err[256];

	lun_chap_init(c);
	assert_int_equal(lun_chap_step(c, cfg, NULL, out, err, sizeof(err)), LUN_CHAP_CONTINUE);
	assert_int_equal(c->state, LUN_CHAP_SENT_A);
	assert_string_equal(lun_kvlist_get(out, "CHAP_A"), "7,5");
	lun_kvlist_clear(out);
}

static void test_oneway_flow(void **state)
{
	struct lun_chap_cfg cfg = oneway_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	uint8_t ch[16], want[32], got[64];
	unsigned wl;
	char err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	run_to_sent_a(&c, &cfg, &out);
	target_challenge_keys(&in, "5", "200", 16);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_CONTINUE);
	assert_int_equal(c.state, LUN_CHAP_SENT_R);
	assert_int_equal(c.alg, LUN_CHAP_MD5);
	assert_int_equal(out.count, 2);
	assert_string_equal(lun_kvlist_get(&out, "CHAP_N"), "iqn.2024-01.test:init");
	fill_challenge(ch, 16);
	test_hash(EVP_md5(), 200, isecret, ISECRET_LEN, ch, 16, want, &wl);
	assert_int_equal(unhex(lun_kvlist_get(&out, "CHAP_R"), got), 16);
	assert_memory_equal(got, want, 16);
	assert_null(lun_kvlist_get(&out, "CHAP_C"));
	/* the target's next response carries no CHAP keys */
	lun_kvlist_clear(&in);
	lun_kvlist_clear(&out);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_COMPLETE);
	assert_int_equal(c.state, LUN_CHAP_DONE);
	assert_int_equal(out.count, 0);
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

/* Runs a mutual exchange up to SENT_R and fills in what the target answers. */
static void mutual_to_sent_r(struct lun_chap *c, const struct lun_chap_cfg *cfg,
			     struct lun_kvlist *in, struct lun_kvlist *out, uint8_t *resp,
			     unsigned *resp_len)
{
	uint8_t mych[64];
	unsigned id;
	char err[256];

	run_to_sent_a(c, cfg, out);
	target_challenge_keys(in, "7", "3", 32);
	assert_int_equal(lun_chap_step(c, cfg, in, out, err, sizeof(err)), LUN_CHAP_CONTINUE);
	assert_int_equal(out->count, 4);
	assert_int_equal(sscanf(lun_kvlist_get(out, "CHAP_I"), "%u", &id), 1);
	assert_true(id <= 255);
	assert_int_equal(unhex(lun_kvlist_get(out, "CHAP_C"), mych), LUN_CHAP_CHALLENGE_LEN);
	test_hash(EVP_sha256(), (uint8_t)id, tsecret, TSECRET_LEN, mych, LUN_CHAP_CHALLENGE_LEN,
		  resp, resp_len);
	lun_kvlist_clear(in);
	lun_kvlist_clear(out);
}

static void test_mutual_flow(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	uint8_t resp[32];
	unsigned rl;
	char hex[80], err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	mutual_to_sent_r(&c, &cfg, &in, &out, resp, &rl);
	assert_int_equal(rl, 32);
	lun_chap_encode_hex(resp, rl, hex);
	lun_kvlist_add(&in, "CHAP_N", "tgt-user");
	lun_kvlist_add(&in, "CHAP_R", hex);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_COMPLETE);
	assert_int_equal(c.state, LUN_CHAP_DONE);
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_mutual_wrong_response(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	uint8_t resp[32];
	unsigned rl;
	char hex[80], err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	mutual_to_sent_r(&c, &cfg, &in, &out, resp, &rl);
	resp[5] ^= 1;
	lun_chap_encode_hex(resp, rl, hex);
	lun_kvlist_add(&in, "CHAP_N", "tgt-user");
	lun_kvlist_add(&in, "CHAP_R", hex);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "SHA-256"));
	assert_null(strstr(err, hex + 2));
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_mutual_wrong_length(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	uint8_t resp[32];
	unsigned rl;
	char hex[80], err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	mutual_to_sent_r(&c, &cfg, &in, &out, resp, &rl);
	/* a target that hashes CHAP_A=7 with SHA-1 sends 20 bytes */
	lun_chap_encode_hex(resp, 20, hex);
	lun_kvlist_add(&in, "CHAP_N", "tgt-user");
	lun_kvlist_add(&in, "CHAP_R", hex);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_string_equal(err, "target's CHAP_R is 20 bytes, SHA-256 gives 32: the target may "
				 "implement CHAP_A=7 as SHA-1");
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_mutual_name_and_missing(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	uint8_t resp[32];
	unsigned rl;
	char hex[80], err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	mutual_to_sent_r(&c, &cfg, &in, &out, resp, &rl);
	lun_chap_encode_hex(resp, rl, hex);
	lun_kvlist_add(&in, "CHAP_N", "impostor");
	lun_kvlist_add(&in, "CHAP_R", hex);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_string_equal(err, "target sent CHAP_N=impostor, expected tgt-user");

	mutual_to_sent_r(&c, &cfg, &in, &out, resp, &rl);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "CHAP_N"));
	lun_kvlist_add(&in, "CHAP_N", "tgt-user");
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "CHAP_R"));
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_reflection_refused(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	char hex[2 + 2 * LUN_CHAP_CHALLENGE_LEN + 1], err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	run_to_sent_a(&c, &cfg, &out);
	/* the target offers our own (already drawn) challenge back */
	lun_chap_encode_hex(c.my_challenge, sizeof(c.my_challenge), hex);
	lun_kvlist_add(&in, "CHAP_A", "7");
	lun_kvlist_add(&in, "CHAP_I", "9");
	lun_kvlist_add(&in, "CHAP_C", hex);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "reflect"));
	assert_int_equal(out.count, 0);
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_bad_challenges(void **state)
{
	struct lun_chap_cfg cfg = oneway_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	char err[256];

	(void)state;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	run_to_sent_a(&c, &cfg, &out);
	target_challenge_keys(&in, "7", "1", 15);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_string_equal(err, "target's CHAP_C is 15 bytes, shorter than the 16 we require");

	run_to_sent_a(&c, &cfg, &out);
	lun_kvlist_clear(&in);
	lun_kvlist_add(&in, "CHAP_A", "7");
	lun_kvlist_add(&in, "CHAP_I", "1");
	lun_kvlist_add(&in, "CHAP_C", "0xnothex0000000000000000000000000000");
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "malformed"));

	run_to_sent_a(&c, &cfg, &out);
	target_challenge_keys(&in, "7", "256", 16);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_non_null(strstr(err, "CHAP_I"));

	run_to_sent_a(&c, &cfg, &out);
	assert_int_equal(lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_unoffered_alg(void **state)
{
	struct lun_chap_cfg cfg = oneway_cfg();
	struct lun_kvlist in, out;
	struct lun_chap c;
	char err[256];

	(void)state;
	cfg.algs[0] = LUN_CHAP_MD5;
	cfg.nalgs = 1;
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	lun_chap_init(&c);
	assert_int_equal(lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)), LUN_CHAP_CONTINUE);
	assert_string_equal(lun_kvlist_get(&out, "CHAP_A"), "5");
	target_challenge_keys(&in, "7", "1", 16);
	assert_int_equal(lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_string_equal(err, "target chose CHAP_A=7 (SHA-256), but we offered only 5");
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
}

static void test_config_errors(void **state)
{
	struct lun_chap_cfg cfg = mutual_cfg();
	struct lun_kvlist out;
	struct lun_chap c;
	char err[256];

	(void)state;
	lun_kvlist_init(&out);
	cfg.target_secret = isecret;
	cfg.target_secret_len = ISECRET_LEN;
	lun_chap_init(&c);
	assert_int_equal(lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_string_equal(err, "initiator and target CHAP secrets must differ");
	assert_null(strstr(err, (const char *)isecret));

	cfg = oneway_cfg();
	cfg.nalgs = 0;
	lun_chap_init(&c);
	assert_int_equal(lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	cfg = oneway_cfg();
	cfg.secret_len = 0;
	assert_int_equal(lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)), LUN_CHAP_ERROR);
	assert_int_equal(out.count, 0);
	lun_kvlist_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_binary_codecs),
		cmocka_unit_test(test_oneway_flow),
		cmocka_unit_test(test_mutual_flow),
		cmocka_unit_test(test_mutual_wrong_response),
		cmocka_unit_test(test_mutual_wrong_length),
		cmocka_unit_test(test_mutual_name_and_missing),
		cmocka_unit_test(test_reflection_refused),
		cmocka_unit_test(test_bad_challenges),
		cmocka_unit_test(test_unoffered_alg),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
