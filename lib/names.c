/*
 * names.c - floor 2: iSCSI name and text-value validation.
 *
 * Checking names before they reach the daemon or a target turns a login
 * that fails with an opaque "target not found" into a message that points
 * at the typo.  The rules are those of RFC 3720 section 3.2.6; the domain
 * part of an iqn name is checked as DNS labels because that is what makes
 * the name globally unique.
 */
#include "names.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* Decode one UTF-8 sequence at s (n bytes available); returns its length,
 * or 0 when it is malformed (overlong, surrogate, beyond U+10FFFF, cut). */
static size_t names_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool lun_text_value_valid(const char *s, size_t maxlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;
	uint32_t cp;

	if (n > maxlen)
		return false;
	while (i < n) {
		len = names_utf8(p + i, n - i, &cp);
		if (!len || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return false;
		i += len;
	}
	return true;
}

static bool names_hex(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool names_alnum(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* eui. and naa.: a fixed number of hex digits and nothing else. */
static bool names_hex_name(const char *s, size_t n1, size_t n2, char *err, size_t errlen)
{
	const char *h = s + 4;
	size_t n = strlen(h), i;

	for (i = 0; i < n; i++) {
		if (!names_hex(h[i])) {
			lun_seterr(err, errlen,
				   "iSCSI name '%s': '%.4s' must be followed by hex digits only",
				   s, s);
			return false;
		}
	}
	if (n != n1 && n != n2) {
		if (n1 == n2)
			lun_seterr(err, errlen, "iSCSI name '%s': '%.4s' needs exactly %zu hex "
						"digits, not %zu", s, s, n1, n);
		else
			lun_seterr(err, errlen, "iSCSI name '%s': '%.4s' needs %zu or %zu hex "
						"digits, not %zu", s, s, n1, n2, n);
		return false;
	}
	return true;
}

/* "YYYY-MM." right after "iqn."; returns false with a message. */
static bool names_iqn_date(const char *s, char *err, size_t errlen)
{
	const char *d = s + 4;
	int i, month;

	for (i = 0; i < 7; i++) {
		bool ok = i == 4 ? d[i] == '-' : (d[i] >= '0' && d[i] <= '9');

		if (!ok)
			break;
	}
	if (i < 7 || d[7] != '.') {
		lun_seterr(err, errlen, "iSCSI name '%s': 'iqn.' must be followed by a date "
					"YYYY-MM and a dot (iqn.2001-04.com.example:...)", s);
		return false;
	}
	month = (d[5] - '0') * 10 + (d[6] - '0');
	if (month < 1 || month > 12) {
		lun_seterr(err, errlen, "iSCSI name '%s': month %.2s is not 01..12", s, d + 5);
		return false;
	}
	return true;
}

/* The naming authority: reversed DNS labels up to the first ':' or the end. */
static bool names_iqn_domain(const char *s, const char *dom, size_t n, char *err, size_t errlen)
{
	size_t i, label = 0;

	if (n == 0) {
		lun_seterr(err, errlen, "iSCSI name '%s' lacks the reversed domain name after "
					"the date (iqn.2001-04.com.example:...)", s);
		return false;
	}
	for (i = 0; i <= n; i++) {
		char c = i < n ? dom[i] : '.';

		if (c == '.') {
			if (label == 0 || dom[i - 1] == '-' || dom[i - label] == '-') {
				lun_seterr(err, errlen,
					   "iSCSI name '%s': domain '%.*s' has an empty label "
					   "or one that starts or ends with '-'", s, (int)n, dom);
				return false;
			}
			label = 0;
		} else if (names_alnum(c) || c == '-') {
			label++;
		} else {
			lun_seterr(err, errlen, "iSCSI name '%s': domain '%.*s' may hold only "
						"letters, digits, '-' and '.'", s, (int)n, dom);
			return false;
		}
	}
	return true;
}

/* The character set of the whole name: ASCII letters, digits, - . : and
 * non-ASCII code points.  Encoding and control characters are checked over
 * the whole string first, so that a message may then quote the name. */
static bool names_chars(const char *s, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len, bad = SIZE_MAX;
	uint32_t cp;

	while (i < n) {
		len = names_utf8(p + i, n - i, &cp);
		if (!len) {
			lun_seterr(err, errlen, "iSCSI name has invalid UTF-8 at byte %zu", i + 1);
			return false;
		}
		if (cp <= 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			lun_seterr(err, errlen, "iSCSI name has a space or control character at "
						"byte %zu", i + 1);
			return false;
		}
		if (cp < 0x80 && bad == SIZE_MAX &&
		    !(names_alnum((char)cp) || cp == '-' || cp == '.' || cp == ':'))
			bad = i;
		i += len;
	}
	if (bad != SIZE_MAX) {
		lun_seterr(err, errlen, "iSCSI name '%s': '%c' is not allowed (only letters, "
					"digits, '-', '.' and ':')", s, s[bad]);
		return false;
	}
	return true;
}

bool lun_iscsi_name_valid(const char *s, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;
	const char *dom, *colon;

	if (n == 0) {
		lun_seterr(err, errlen, "the iSCSI name is empty");
		return false;
	}
	if (n > LUN_ISCSI_NAME_MAX) {
		lun_seterr(err, errlen, "iSCSI name '%.40s...' is %zu bytes long, more than %d",
			   s, n, LUN_ISCSI_NAME_MAX);
		return false;
	}
	if (!names_chars(s, err, errlen))
		return false;
	if (!strncasecmp(s, "eui.", 4))
		return names_hex_name(s, 16, 16, err, errlen);
	if (!strncasecmp(s, "naa.", 4))
		return names_hex_name(s, 16, 32, err, errlen);
	if (strncasecmp(s, "iqn.", 4)) {
		lun_seterr(err, errlen, "iSCSI name '%s' must start with iqn., eui. or naa.", s);
		return false;
	}
	if (!names_iqn_date(s, err, errlen))
		return false;
	dom = s + 12;
	colon = strchr(dom, ':');
	return names_iqn_domain(s, dom, colon ? (size_t)(colon - dom) : strlen(dom), err, errlen);
}
