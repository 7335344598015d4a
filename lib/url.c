/*
 * url.c - floor 2: iscsi:// URLs and host[:port] portals.
 *
 * The URL grammar follows libiscsi so that the same strings work with both
 * tools: the user information ends at the last '@', and user and secret are
 * split at the first '%' (or, when there is none, the first ':').  The secret
 * never appears in an error message: messages quote only the part they
 * reject, and the secret is never that part.
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define URL_DEFAULT_PORT 3260
#define URL_MAX_LUN 16383
#define URL_MAX_TARGET 223

/* A length-delimited piece of the input. */
struct url_span {
	const char *p;
	size_t n;
};

/* ------------------------------------------------------------------ */
/* Host and port                                                      */

static bool url_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool url_is_alnum(char c)
{
	return url_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool url_is_hex(char c)
{
	return url_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decimal without sign or spaces, at most `max`. */
static int url_number(struct url_span s, unsigned long max, unsigned long *v)
{
	size_t i;

	*v = 0;
	if (s.n == 0 || s.n > 5)
		return -1;
	for (i = 0; i < s.n; i++) {
		if (!url_is_digit(s.p[i]))
			return -1;
		*v = *v * 10 + (unsigned long)(s.p[i] - '0');
	}
	return *v <= max ? 0 : -1;
}

static int url_port(struct url_span s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v;

	if (url_number(s, 65535, &v) || v == 0) {
		lun_seterr(err, errlen, "port '%.*s' is not a number from 1 to 65535.", (int)s.n,
			   s.p);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* DNS name or IPv4 address: letters, digits, '.', '-' and '_' (some
 * internal zones use it), not starting with '-' or '.'. */
static bool url_hostname_ok(struct url_span s)
{
	size_t i;

	if (s.n == 0 || s.p[0] == '-' || s.p[0] == '.')
		return false;
	for (i = 0; i < s.n; i++)
		if (!url_is_alnum(s.p[i]) && s.p[i] != '.' && s.p[i] != '-' && s.p[i] != '_')
			return false;
	return true;
}

/* IPv6 literal, optionally with a zone ("fe80::1%eth0"; RFC 6874 writes the
 * '%' as "%25" in URLs, and that form is accepted too).  Stored without
 * the "25". */
static int url_ipv6(struct url_span s, char *host, size_t hostcap)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *pct = memchr(s.p, '%', s.n);
	size_t alen = pct ? (size_t)(pct - s.p) : s.n;
	struct url_span zone = { NULL, 0 };
	size_t i;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s.p, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	if (pct) {
		zone.p = pct + 1;
		zone.n = s.n - alen - 1;
		if (zone.n > 2 && zone.p[0] == '2' && zone.p[1] == '5') {
			zone.p += 2;
			zone.n -= 2;
		}
		if (zone.n == 0)
			return -1;
		for (i = 0; i < zone.n; i++)
			if (!url_is_alnum(zone.p[i]) && !strchr("._-", zone.p[i]))
				return -1;
	}
	if (alen + (pct ? 1 + zone.n : 0) >= hostcap)
		return -1;
	snprintf(host, hostcap, "%s%s%.*s", addr, pct ? "%" : "", (int)zone.n,
		 zone.p ? zone.p : "");
	return 0;
}

static int url_host(struct url_span s, bool bracketed, char *host, size_t hostcap, char *err,
		    size_t errlen)
{
	if (bracketed) {
		if (url_ipv6(s, host, hostcap) == 0)
			return 0;
		lun_seterr(err, errlen, "'[%.*s]' is not a valid IPv6 address.", (int)s.n, s.p);
		return -1;
	}
	if (!url_hostname_ok(s)) {
		lun_seterr(err, errlen, "host '%.*s' is not a valid host name or address.",
			   (int)s.n, s.p);
		return -1;
	}
	if (s.n >= hostcap) {
		lun_seterr(err, errlen, "host name of %zu characters is too long.", s.n);
		return -1;
	}
	memcpy(host, s.p, s.n);
	host[s.n] = '\0';
	return 0;
}

/* Parse "host", "host:port", "[v6]" or "[v6]:port" spanning exactly s. */
static int url_hostport(struct url_span s, char *host, size_t hostcap, uint16_t *port,
			char *err, size_t errlen)
{
	struct url_span h = s, p = { NULL, 0 };
	bool bracketed = s.n && s.p[0] == '[';

	if (bracketed) {
		const char *close = memchr(s.p, ']', s.n);

		if (!close) {
			lun_seterr(err, errlen, "'%.*s' lacks the closing ']' of an IPv6 address.",
				   (int)s.n, s.p);
			return -1;
		}
		h.p = s.p + 1;
		h.n = (size_t)(close - h.p);
		p.p = close + 1;
		p.n = s.n - (size_t)(p.p - s.p);
		if (p.n && p.p[0] != ':') {
			lun_seterr(err, errlen, "unexpected '%.*s' after the IPv6 address.",
				   (int)p.n, p.p);
			return -1;
		}
	} else {
		const char *colon = memchr(s.p, ':', s.n);

		if (colon) {
			h.n = (size_t)(colon - s.p);
			p.p = colon;
			p.n = s.n - h.n;
		}
	}
	if (h.n == 0) {
		lun_seterr(err, errlen, "the host name is missing.");
		return -1;
	}
	if (url_host(h, bracketed, host, hostcap, err, errlen))
		return -1;
	if (p.n == 0)
		return 0;
	p.p++;
	p.n--;
	return url_port(p, port, err, errlen);
}

int lun_portal_parse(const char *s, char *host, size_t hostcap, uint16_t *port,
		     uint16_t defport, char *err, size_t errlen)
{
	struct url_span all;
	const char *first, *last;

	if (hostcap)
		host[0] = '\0';
	*port = defport;
	if (!s || !*s) {
		lun_seterr(err, errlen, "the portal is empty.");
		return -1;
	}
	all.p = s;
	all.n = strlen(s);
	/* A bare IPv6 address ("::1") has several colons, so none of them can
	 * be the port separator: take it whole, with the default port. */
	first = strchr(s, ':');
	last = strrchr(s, ':');
	if (s[0] != '[' && first && first != last) {
		if (url_ipv6(all, host, hostcap) == 0)
			return 0;
		lun_seterr(err, errlen,
			   "'%s' is not a valid portal (write IPv6 addresses as [addr]:port).", s);
		return -1;
	}
	if (url_hostport(all, host, hostcap, port, err, errlen)) {
		if (hostcap)
			host[0] = '\0';
		*port = defport;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Target name and LUN                                                */

static int url_hexval(char c)
{
	if (url_is_digit(c))
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

/* Copy the target, decoding %XX as libiscsi does. */
static int url_target_decode(struct url_span s, char *out, size_t cap, char *err, size_t errlen)
{
	size_t i, o = 0;

	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '%') {
			if (i + 2 >= s.n || !url_is_hex(s.p[i + 1]) || !url_is_hex(s.p[i + 2])) {
				lun_seterr(err, errlen, "target '%.*s' has a bad %%-escape.",
					   (int)s.n, s.p);
				return -1;
			}
			c = (char)(url_hexval(s.p[i + 1]) << 4 | url_hexval(s.p[i + 2]));
			i += 2;
		}
		if (o + 1 >= cap) {
			lun_seterr(err, errlen, "target name is longer than %d characters.",
				   URL_MAX_TARGET);
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static bool url_all_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!url_is_hex(p[i]))
			return false;
	return true;
}

/*
 * RFC 7143 section 4.2.7: "iqn." names use letters, digits, '.', '-' and ':'
 * (stringprep folds them to lowercase, but targets such as Synology's
 * advertise mixed case and compare it literally, so case is kept);
 * "eui." is 16 hex digits and "naa." 16 or 32.
 */
static bool url_target_ok(const char *t)
{
	size_t n = strlen(t), i;

	if (strncmp(t, "eui.", 4) == 0)
		return n == 20 && url_all_hex(t + 4, 16);
	if (strncmp(t, "naa.", 4) == 0)
		return (n == 20 || n == 36) && url_all_hex(t + 4, n - 4);
	if (strncmp(t, "iqn.", 4) != 0 || n == 4)
		return false;
	for (i = 4; i < n; i++)
		if (!url_is_alnum(t[i]) && t[i] != '.' && t[i] != '-' && t[i] != ':')
			return false;
	return true;
}

static int url_target(struct url_span s, struct lun_url *u, char *err, size_t errlen)
{
	if (url_target_decode(s, u->target, sizeof(u->target), err, errlen))
		return -1;
	if (!url_target_ok(u->target)) {
		lun_seterr(err, errlen,
			   "target '%.*s' is not an iSCSI name (iqn., eui. or naa. form).",
			   (int)s.n, s.p);
		u->target[0] = '\0';
		return -1;
	}
	return 0;
}

static int url_lun(struct url_span s, struct lun_url *u, char *err, size_t errlen)
{
	unsigned long v;

	if (url_number(s, URL_MAX_LUN, &v)) {
		lun_seterr(err, errlen, "LUN '%.*s' is not a number from 0 to %d.", (int)s.n, s.p,
			   URL_MAX_LUN);
		return -1;
	}
	u->lun = (int)v;
	return 0;
}

/* "/target[/lun][/]" after the host, or nothing, or a lone "/". */
static int url_path(const char *p, struct lun_url *u, char *err, size_t errlen)
{
	struct url_span t, l;
	const char *slash;

	if (*p == '\0' || strcmp(p, "/") == 0)
		return 0;
	t.p = p + 1;
	slash = strchr(t.p, '/');
	t.n = slash ? (size_t)(slash - t.p) : strlen(t.p);
	if (url_target(t, u, err, errlen))
		return -1;
	if (!slash || slash[1] == '\0')
		return 0;
	l.p = slash + 1;
	slash = strchr(l.p, '/');
	l.n = slash ? (size_t)(slash - l.p) : strlen(l.p);
	if (url_lun(l, u, err, errlen))
		return -1;
	if (slash && slash[1] != '\0') {
		lun_seterr(err, errlen, "unexpected '%s' after the LUN.", slash);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* User information                                                   */

static bool url_user_ok(struct url_span s)
{
	size_t i;

	for (i = 0; i < s.n; i++)
		if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f || s.p[i] == '/')
			return false;
	return true;
}

/* Split "user[%secret]" (or "user:secret") into u.  Only the user name is
 * ever quoted in a message. */
static int url_userinfo(struct url_span s, struct lun_url *u, char *err, size_t errlen)
{
	const char *sep = memchr(s.p, '%', s.n);
	struct url_span user = s, secret = { NULL, 0 };

	if (!sep)
		sep = memchr(s.p, ':', s.n);
	if (sep) {
		user.n = (size_t)(sep - s.p);
		secret.p = sep + 1;
		secret.n = s.n - user.n - 1;
	}
	if (user.n == 0 || user.n >= sizeof(u->user) || !url_user_ok(user)) {
		lun_seterr(err, errlen, "user name '%.*s' before '@' is empty, too long or has "
			   "characters that are not allowed.", (int)(user.n > 64 ? 64 : user.n),
			   user.p);
		return -1;
	}
	if (sep && (secret.n == 0 || secret.n >= sizeof(u->secret))) {
		lun_seterr(err, errlen, "the secret for user '%.*s' is empty or longer than %zu "
			   "bytes.", (int)user.n, user.p, sizeof(u->secret) - 1);
		return -1;
	}
	memcpy(u->user, user.p, user.n);
	if (sep) {
		memcpy(u->secret, secret.p, secret.n);
		u->has_secret = true;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Whole URL                                                          */

static int url_parse_inner(const char *s, struct lun_url *u, char *err, size_t errlen)
{
	const char *rest, *at, *hp_end, *bracket;
	struct url_span hp;

	if (!s || strncasecmp(s, "iscsi://", 8) != 0) {
		lun_seterr(err, errlen, "the URL does not start with \"iscsi://\".");
		return -1;
	}
	rest = s + 8;
	/* Host, port, target and LUN cannot contain '@', so the last one ends
	 * the user information even when the secret holds '@' or '/'. */
	at = strrchr(rest, '@');
	if (at) {
		struct url_span ui = { rest, (size_t)(at - rest) };

		if (url_userinfo(ui, u, err, errlen))
			return -1;
		rest = at + 1;
	}
	if (strchr(rest, '?') || strchr(rest, '#')) {
		lun_seterr(err, errlen, "URL query or fragment in '%s' is not supported.", rest);
		return -1;
	}
	/* An IPv6 literal holds no '/', but start after its ']' anyway so
	 * that the error names the real problem when the ']' is missing. */
	bracket = rest[0] == '[' ? strchr(rest, ']') : NULL;
	hp_end = strchr(bracket ? bracket : rest, '/');
	hp.p = rest;
	hp.n = hp_end ? (size_t)(hp_end - rest) : strlen(rest);
	if (url_hostport(hp, u->host, sizeof(u->host), &u->port, err, errlen))
		return -1;
	return url_path(rest + hp.n, u, err, errlen);
}

int lun_url_parse(const char *s, struct lun_url *u, char *err, size_t errlen)
{
	explicit_bzero(u, sizeof(*u));
	u->port = URL_DEFAULT_PORT;
	u->lun = -1;
	if (url_parse_inner(s, u, err, errlen) == 0)
		return 0;
	/* Leave nothing half-filled behind, and above all no secret. */
	explicit_bzero(u, sizeof(*u));
	u->port = URL_DEFAULT_PORT;
	u->lun = -1;
	return -1;
}

void lun_url_wipe(struct lun_url *u)
{
	explicit_bzero(u->secret, sizeof(u->secret));
	u->has_secret = false;
}
