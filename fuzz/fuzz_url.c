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

/* Where lun_url_parse would cut the secret: after the first '%' (or ':')
 * of the text before the last '@'.  *len is 0 when there is none. */
static size_t fz_secret_span(const char *s, size_t *len)
{
	const char *rest = strncasecmp(s, "iscsi://", 8) == 0 ? s + 8 : s;
	const char *at = strrchr(rest, '@');
	const char *sep;

	*len = 0;
	if (!at)
		return 0;
	sep = memchr(rest, '%', (size_t)(at - rest));
	if (!sep)
		sep = memchr(rest, ':', (size_t)(at - rest));
	if (!sep)
		return 0;
	*len = (size_t)(at - sep - 1);
	return (size_t)(sep + 1 - s);
}

static void fz_url(const char *s)
{
	struct lun_url u;
	char err[512], err2[512];
	static const char zero[sizeof(u.secret)];
	size_t off, len, i;
	char *s2;

	off = fz_secret_span(s, &len);
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
	if (len == 0)
		return;
	/* The message must not depend on the secret's bytes: the same URL
	 * with another secret of the same length gives the same message.
	 * (Replacing bytes after the separator moves neither the last '@' nor
	 * the separator, so the rest parses the same way.)  Searching the
	 * message for the secret instead gives false alarms: quoted text next
	 * to a quote mark can spell a secret such as "'\xff\xff...". */
	s2 = strdup(s);
	if (!s2)
		return;
	for (i = 0; i < len; i++)
		s2[off + i] = s[off + i] == 'x' ? 'y' : 'x';
	err2[0] = '\0';
	fz_check(lun_url_parse(s2, &u, err2, sizeof(err2)) != 0);
	fz_check(strcmp(err, err2) == 0);
	free(s2);
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
