/*
 * fuzz_url.c - lun_url_parse and lun_portal_parse over arbitrary strings.
 *
 * Beyond "no crash": a failed parse leaves no secret behind, a successful
 * one yields values inside their documented ranges, and no error message
 * contains the secret that the input carried.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

/* The secret as lun_url_parse would cut it: after the first '%' (or ':')
 * of the text before the last '@'.  Empty when there is none. */
static void fz_expected_secret(const char *s, char *out, size_t cap)
{
	const char *rest = strncasecmp(s, "iscsi://", 8) == 0 ? s + 8 : s;
	const char *at = strrchr(rest, '@');
	const char *sep;
	size_t n;

	out[0] = '\0';
	if (!at)
		return;
	sep = memchr(rest, '%', (size_t)(at - rest));
	if (!sep)
		sep = memchr(rest, ':', (size_t)(at - rest));
	if (!sep)
		return;
	n = (size_t)(at - sep - 1);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, sep + 1, n);
	out[n] = '\0';
}

static int fz_occurrences(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void fz_url(const char *s)
{
	struct lun_url u;
	char err[512], secret[300];
	static const char zero[sizeof(u.secret)];

	fz_expected_secret(s, secret, sizeof(secret));
	err[0] = '\0';
	if (lun_url_parse(s, &u, err, sizeof(err)) == 0) {
		fz_check(u.port >= 1);
		fz_check(u.lun >= -1 && u.lun <= 16383);
		fz_check(strlen(u.host) > 0 && strlen(u.host) < sizeof(u.host));
		fz_check(strlen(u.target) <= 223);
		fz_check(u.has_secret == (u.secret[0] != '\0'));
		lun_url_wipe(&u);
		fz_check(memcmp(u.secret, zero, sizeof(zero)) == 0);
		return;
	}
	fz_check(!u.has_secret && memcmp(u.secret, zero, sizeof(zero)) == 0);
	fz_check(strlen(err) > 0);
	/* A secret that also occurs elsewhere in the input (say, equal to the
	 * host name) may be quoted as that other part; a short one may match
	 * fixed message text.  Otherwise its presence means a leak. */
	if (strlen(secret) >= 12 && fz_occurrences(s, secret) == 1)
		fz_check(strstr(err, secret) == NULL);
}

static void fz_portal(const char *s)
{
	char host[256], small[8], err[256];
	uint16_t port;

	if (lun_portal_parse(s, host, sizeof(host), &port, 3260, err, sizeof(err)) == 0)
		fz_check(port >= 1 && strlen(host) > 0);
	if (lun_portal_parse(s, small, sizeof(small), &port, 3260, err, sizeof(err)) == 0)
		fz_check(strlen(small) < sizeof(small));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fz_url(s);
	fz_portal(s);
	free(s);
	return 0;
}
