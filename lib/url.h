/*
 * url.h - floor 2: the user-facing addresses the CLI accepts.
 *
 *   iscsi://[user[%secret]@]host[:port][/target-iqn[/lun]]   (libiscsi form)
 *   host[:port]                                              (portals)
 * IPv6 hosts are written in brackets: iscsi://[::1]:3260/iqn.../0.
 */
#ifndef LUNARIS_URL_H
#define LUNARIS_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lun_url {
	char host[256]; /* without brackets */
	uint16_t port; /* 3260 when absent */
	char target[224]; /* "" when absent */
	int lun; /* -1 when absent; 0..16383 otherwise */
	char user[256]; /* "" when absent */
	char secret[256]; /* "" when absent; caller warns that argv holds a secret */
	bool has_secret;
};

/* Returns 0, or -1 with a sentence in err that quotes the bad part (never
 * the secret).  As in libiscsi, the user information ends at the (last) '@'
 * and user and secret are split at the first '%' (or, failing that, the
 * first ':'), so the user name itself cannot hold '%'; the secret is taken
 * verbatim.  Percent-escapes (%XX) in the target are decoded. */
int lun_url_parse(const char *s, struct lun_url *u, char *err, size_t errlen);

/* "host[:port]" / "[v6]:port"; port defaults to `defport`. */
int lun_portal_parse(const char *s, char *host, size_t hostcap, uint16_t *port,
		     uint16_t defport, char *err, size_t errlen);

/* Wipe the secret from memory (explicit_bzero). */
void lun_url_wipe(struct lun_url *u);

#endif
