/*
 * fuzz_chap.c - the CHAP state machine fed target keys parsed from arbitrary
 * bytes, after it sent CHAP_A.  The first byte picks one-way or mutual
 * CHAP and the offered algorithms; if the machine continues, the same keys
 * are fed again as the next response (the mutual verification path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_chap_isecret[] = "initiator-secret-16";
static const uint8_t fuzz_chap_tsecret[] = "target-secret-0016";

static void fuzz_chap_cfg(uint8_t sel, struct lun_chap_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->user = "iqn.2024-01.test:init";
	cfg->secret = fuzz_chap_isecret;
	cfg->secret_len = sizeof(fuzz_chap_isecret) - 1;
	cfg->mutual = sel & 1;
	cfg->target_user = (sel & 2) ? "tgt" : NULL;
	cfg->target_secret = fuzz_chap_tsecret;
	cfg->target_secret_len = sizeof(fuzz_chap_tsecret) - 1;
	/* a rotated subset of the four algorithms: never empty, no duplicates */
	for (int i = 0; i < LUN_CHAP_MAX_ALGS; i++)
		if ((sel >> (4 + i)) & 1 || i == 0)
			cfg->algs[cfg->nalgs++] = LUN_CHAP_MD5 + ((i + (sel >> 2)) & 3);
}

/* A secret in an error sentence is a leak, unless the target itself sent
 * those bytes (errors may quote the target's values). */
static int fuzz_chap_leaks(const char *err, const uint8_t *secret, const uint8_t *data,
			   size_t size)
{
	const char *s = (const char *)secret;

	return strstr(err, s) && !memmem(data, size, s, strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_chap_cfg cfg;
	struct lun_kvlist in, out;
	struct lun_chap c;
	char err[256];
	int rc;

	if (size < 1)
		return 0;
	fuzz_chap_cfg(data[0], &cfg);
	lun_kvlist_init(&in);
	lun_kvlist_init(&out);
	lun_chap_init(&c);
	if (lun_chap_step(&c, &cfg, NULL, &out, err, sizeof(err)) != LUN_CHAP_CONTINUE)
		abort();
	if (lun_kvlist_parse(&in, data + 1, size - 1, err, sizeof(err)) == 0) {
		rc = lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err));
		if (rc == LUN_CHAP_CONTINUE)
			rc = lun_chap_step(&c, &cfg, &in, &out, err, sizeof(err));
		/* nobody but the holder of target_secret can complete mutual CHAP */
		if (rc == LUN_CHAP_COMPLETE && cfg.mutual)
			abort();
		if (rc == LUN_CHAP_ERROR && (fuzz_chap_leaks(err, fuzz_chap_isecret, data, size) ||
					     fuzz_chap_leaks(err, fuzz_chap_tsecret, data, size)))
			abort();
	}
	lun_kvlist_free(&in);
	lun_kvlist_free(&out);
	return 0;
}
