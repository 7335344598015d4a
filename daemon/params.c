/*
 * params.c - per-target login settings (`target-param`, as in iscsiadm), the
 * tunables shared with `initiator-node`, and the lookups the session code
 * makes: a target's own setting, else the initiator node's, else the
 * built-in default (the order of the Solaris initiator's persistent store).
 *
 * Store layout.  Scope "" is the initiator node; a target's scope is its
 * name folded to lower case, because iSCSI names compare case-insensitively
 * (RFC 3722 folds them), and "IQN.2024-01.Example:T1" must not get settings
 * apart from "iqn.2024-01.example:t1".  In a target's scope the target's
 * own CHAP credentials, which it proves itself with in bi-directional
 * (mutual) CHAP, are "target-chap-name" and "target-chap-secret".  No key of
 * a target scope is ever "chap-name" or "chap-secret": those are the
 * initiator's and live only in scope "", so the two identities cannot be
 * mixed up, and lun_store_key_is_secret() masks "target-chap-secret" like
 * every "-secret" key.
 *
 * A secret is read back only by lund_param() for the session code and by
 * the checks of a change, into buffers wiped after use; listings read the
 * store's masked view and say only whether a secret is set.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon.h"
#include "names.h"
#include "util.h"

#define FAIL(rep, c, ...)                                                \
	do {                                                             \
		(rep)->code = (c);                                       \
		snprintf((rep)->err, sizeof((rep)->err), __VA_ARGS__);   \
	} while (0)

#define SECRET_MAX 255 /* CHAP secrets, as the initiator node's */
#define TEXT_MAX 255 /* iSCSI text values (RFC 7143 6.1) */
#define MAX_SESSIONS 4
#define SCOPE_MAX (LUN_ISCSI_NAME_MAX + 1)
#define MIN_SECRET 12 /* RFC 7143 12.1.3 */

/* ---- tunables */

enum tunable_kind {
	TUN_SECONDS, /* whole seconds from min to max */
	TUN_ONOFF, /* "on" or "off"; the value is 1 or 0 */
};

/* The tunables of docs/control-protocol.md.  node_only: the tunable governs
 * the daemon (discovery), not a target's sessions, so a target-param cannot
 * carry it: a per-target value would be accepted and never used. */
static const struct tunable {
	const char *name;
	enum tunable_kind kind;
	unsigned def, min, max;
	bool node_only;
} tunables[] = {
	{ "noop-interval", TUN_SECONDS, 5, 0, 3600, false },
	{ "noop-timeout", TUN_SECONDS, 5, 1, 3600, false },
	{ "login-retry-interval", TUN_SECONDS, 5, 1, 3600, false },
	{ "conn-login-max", TUN_SECONDS, 180, 0, 86400, false },
	{ "polling-interval", TUN_SECONDS, 60, 1, 86400, false },
	{ "replacement-timeout", TUN_SECONDS, 120, 0, 86400, false },
	{ "login-timeout", TUN_SECONDS, 30, 1, 3600, false },
	{ "command-timeout", TUN_SECONDS, 60, 0, 86400, false },
	{ "discovery-min-interval", TUN_SECONDS, 10, 0, 3600, true },
	{ "storm-protection", TUN_ONOFF, 1, 0, 1, true },
	/* exports (lu.c): how long an open of an offline name waits for
	 * config_one, and how long I/O waits for a path */
	{ "open-timeout", TUN_SECONDS, 5, 1, 3600, true },
	{ "no-path-timeout", TUN_SECONDS, 30, 1, 86400, true },
};
#define NTUNABLES (sizeof(tunables) / sizeof(tunables[0]))

static const struct tunable *tunable_find(const char *name)
{
	for (size_t i = 0; name && i < NTUNABLES; i++)
		if (!strcmp(tunables[i].name, name))
			return &tunables[i];
	return NULL;
}

/* Stored text to a value; false when the text is no value of the tunable
 * (a store edited by hand), and then the next level of the lookup applies. */
static bool tunable_parse(const struct tunable *t, const char *text, unsigned *v)
{
	unsigned long x;
	char *end;

	if (t->kind == TUN_ONOFF) {
		if (strcmp(text, "on") && strcmp(text, "off"))
			return false;
		*v = !strcmp(text, "on");
		return true;
	}
	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	x = strtoul(text, &end, 10);
	if (errno || *end || x < t->min || x > t->max)
		return false;
	*v = (unsigned)x;
	return true;
}

static void tunable_text(const struct tunable *t, unsigned v, char *buf, size_t cap)
{
	if (t->kind == TUN_ONOFF)
		lun_strlcpy(buf, v ? "on" : "off", cap);
	else
		snprintf(buf, cap, "%u", v);
}

static json_t *tunable_json(const struct tunable *t, unsigned v)
{
	return t->kind == TUN_ONOFF ? json_string(v ? "on" : "off") : json_integer(v);
}

/* ---- messages */

/* `s` for quoting in a message: at most 64 bytes, cut at a UTF-8 character
 * boundary, because the reply is JSON and a cut character would make the
 * whole reply unencodable. */
static const char *quote(const char *s, char *buf, size_t cap)
{
	size_t n = strlen(s), max = cap < 68 ? cap - 4 : 64;

	if (n <= max)
		return s;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	snprintf(buf, cap, "%.*s...", (int)max, s);
	return buf;
}

/* ---- target names */

/*
 * A target's scope: its name checked (RFC 3720 3.2.6) and folded to lower
 * case.  ASCII names only: folding others needs the stringprep of RFC 3722,
 * and config.c's static-config refuses them too.  err may be NULL.
 */
static bool target_scope(const char *name, char *scope, size_t cap, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n > LUN_ISCSI_NAME_MAX || n >= cap) {
		lun_seterr(err, errlen, "the target name is %zu bytes long, more than %d", n,
			   LUN_ISCSI_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)name[i] >= 0x80) {
			lun_seterr(err, errlen, "target name '%s' has non-ASCII characters; only "
						"ASCII iSCSI names can have target-param", name);
			return false;
		}
	}
	if (!lun_iscsi_name_valid(name, err, errlen))
		return false;
	for (size_t i = 0; i <= n; i++)
		scope[i] = (char)tolower((unsigned char)name[i]);
	return true;
}

/* ---- lookups for the session code */

/* One level of a lookup: 1 found (and valid, for a tunable), 0 absent, -1
 * store error (logged: the error names the key, never a value). */
static int lookup(struct lund *d, const char *scope, const char *key, const struct tunable *t,
		  char *buf, size_t cap)
{
	char err[256];
	unsigned v;
	int rc = lun_store_get(d->store, scope, key, buf, cap, err, sizeof(err));

	if (rc < 0) {
		lund_log(LOG_ERR, "cannot read %s: %s", key, err);
		return -1;
	}
	if (rc == 1 && t && !tunable_parse(t, buf, &v)) {
		lund_log(LOG_WARNING, "ignoring %s of %s: not a value of it", key,
			 scope[0] ? scope : "the initiator node");
		return 0;
	}
	return rc;
}

const char *lund_param(struct lund *d, const char *target, const char *key, char *buf, size_t cap)
{
	char scope[SCOPE_MAX], name[224], defbuf[32];
	const struct tunable *t = NULL;
	const char *def = NULL;
	bool own = true, node = true; /* which levels to look at */
	int rc;

	if (!d || !d->store || !key || !buf || !cap)
		return NULL;
	if (!strncmp(key, "tunable.", 8)) {
		if (!(t = tunable_find(key + 8)))
			return NULL;
		own = !t->node_only;
		tunable_text(t, t->def, defbuf, sizeof(defbuf));
		def = defbuf;
	} else if (!strcmp(key, "header-digest") || !strcmp(key, "data-digest") ||
		   !strcmp(key, "authentication")) {
		def = "none";
	} else if (!strcmp(key, "bidir-auth")) {
		def = "disabled";
	} else if (!strcmp(key, "configured-sessions")) {
		def = "1";
	} else if (!strcmp(key, "chap-name") || !strcmp(key, "chap-secret")) {
		/* The initiator's own identity: the same towards every target. */
		own = false;
		if (!strcmp(key, "chap-name")) {
			if (lookup(d, "", "node-name", NULL, name, sizeof(name)) != 1)
				lun_strlcpy(name, d->initiator_name, sizeof(name));
			if (!name[0])
				lunaris_default_initiator_name(name, sizeof(name));
			def = name;
		}
	} else if (!strcmp(key, "target-chap-name") || !strcmp(key, "target-chap-secret")) {
		/* The target's identity exists only per target; its CHAP name
		 * defaults to its iSCSI name, as in Solaris. */
		node = false;
		if (!strcmp(key, "target-chap-name"))
			def = target;
	} else {
		return NULL;
	}
	if (own && target && target[0] && target_scope(target, scope, sizeof(scope), NULL, 0)) {
		rc = lookup(d, scope, key, t, buf, cap);
		if (rc)
			return rc > 0 ? buf : NULL;
	}
	if (node) {
		rc = lookup(d, "", key, t, buf, cap);
		if (rc)
			return rc > 0 ? buf : NULL;
	}
	if (!def || lun_strlcpy(buf, def, cap) >= cap)
		return NULL;
	return buf;
}

unsigned lund_tunable(struct lund *d, const char *target, const char *name)
{
	const struct tunable *t = tunable_find(name);
	char key[64], buf[32];
	unsigned v;

	if (!t) {
		lund_log(LOG_ERR, "no tunable '%s' (a bug in the caller)", name ? name : "(null)");
		return 0;
	}
	snprintf(key, sizeof(key), "tunable.%s", t->name);
	if (lund_param(d, target, key, buf, sizeof(buf)) && tunable_parse(t, buf, &v))
		return v;
	return t->def;
}

bool lund_storm_protection(struct lund *d)
{
	return lund_tunable(d, NULL, "storm-protection") != 0;
}

/* ---- listings */

static void collect_setting(const char *key, const char *value, void *arg)
{
	json_object_set_new(arg, key, json_string(value));
}

/* Every setting of a scope as key -> text.  The store masks secrets in this
 * view, so a listing never holds one.  NULL with rep set on a store error. */
static json_t *scope_settings(struct lund *d, const char *scope, struct lund_reply *rep)
{
	json_t *o = json_object();
	char err[256];

	if (lun_store_list_settings(d->store, scope, collect_setting, o, err, sizeof(err)) < 0) {
		json_decref(o);
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return NULL;
	}
	return o;
}

static const char *text_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* name -> {"default", "configured"}.  The initiator node's default is the
 * built-in value (tgt NULL); a target's is what it inherits, the node's
 * value else the built-in, and the daemon-wide tunables are not a target's. */
static json_t *tunables_json(const json_t *node, const json_t *tgt)
{
	json_t *o = json_object();

	for (size_t i = 0; i < NTUNABLES; i++) {
		const struct tunable *t = &tunables[i];
		const char *s;
		char key[64];
		unsigned def = t->def, v;

		if (tgt && t->node_only)
			continue;
		snprintf(key, sizeof(key), "tunable.%s", t->name);
		if (tgt && (s = text_of(node, key)) && tunable_parse(t, s, &v))
			def = v;
		s = text_of(tgt ? tgt : node, key);
		json_object_set_new(o, t->name,
				    json_pack("{s:o,s:o}", "default", tunable_json(t, def),
					      "configured", s && tunable_parse(t, s, &v)
								    ? tunable_json(t, v)
								    : json_null()));
	}
	return o;
}

json_t *lund_tunables_json(struct lund *d, struct lund_reply *rep)
{
	json_t *node = scope_settings(d, "", rep), *o;

	if (!node)
		return NULL;
	o = tunables_json(node, NULL);
	json_decref(node);
	return o;
}

static json_t *setting_json(json_t *def, json_t *conf)
{
	return json_pack("{s:o,s:o}", "default", def, "configured", conf ? conf : json_null());
}

static json_t *text_setting(const json_t *node, const json_t *tgt, const char *key,
			    const char *builtin)
{
	const char *def = text_of(node, key), *conf = text_of(tgt, key);

	return setting_json(json_string(def ? def : builtin), conf ? json_string(conf) : NULL);
}

static json_t *bool_setting(const json_t *node, const json_t *tgt, const char *key)
{
	const char *def = text_of(node, key), *conf = text_of(tgt, key);

	return setting_json(json_boolean(def && !strcmp(def, "enabled")),
			    conf ? json_boolean(!strcmp(conf, "enabled")) : NULL);
}

static json_t *sessions_json(const char *s)
{
	int n = s && s[0] >= '1' && s[0] <= '0' + MAX_SESSIONS && !s[1] ? s[0] - '0' : 0;

	return n ? json_integer(n) : NULL;
}

/* One target-param as docs/control-protocol.md describes it: every setting
 * as {"default": what the target inherits, "configured": its own or null}. */
static json_t *target_json(const char *name, const json_t *node, const json_t *tgt)
{
	json_t *o = json_object(), *def = sessions_json(text_of(node, "configured-sessions"));

	json_object_set_new(o, "target", json_string(name));
	json_object_set_new(o, "alias", json_null()); /* learnt at login; no session yet */
	json_object_set_new(o, "authentication",
			    text_setting(node, tgt, "authentication", "none"));
	json_object_set_new(o, "bidir-auth", bool_setting(node, tgt, "bidir-auth"));
	json_object_set_new(o, "target-chap-name",
			    setting_json(json_string(name),
					 text_of(tgt, "target-chap-name")
						 ? json_string(text_of(tgt, "target-chap-name"))
						 : NULL));
	json_object_set_new(o, "target-chap-secret-set",
			    json_boolean(json_object_get(tgt, "target-chap-secret") != NULL));
	json_object_set_new(o, "header-digest", text_setting(node, tgt, "header-digest", "none"));
	json_object_set_new(o, "data-digest", text_setting(node, tgt, "data-digest", "none"));
	json_object_set_new(o, "tunables", tunables_json(node, tgt));
	json_object_set_new(o, "configured-sessions",
			    setting_json(def ? def : json_integer(1),
					 sessions_json(text_of(tgt, "configured-sessions"))));
	return o;
}

static void list_target_params(struct lund *d, struct lund_reply *rep)
{
	char **scopes = NULL, chk[SCOPE_MAX], err[256];
	json_t *node = scope_settings(d, "", rep), *a;
	int n;

	if (!node)
		return;
	n = lun_store_list_scopes(d->store, &scopes, err, sizeof(err));
	if (n < 0) {
		json_decref(node);
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return;
	}
	a = json_array();
	for (int i = 0; i < n; i++) {
		json_t *tgt;

		/* Only the scopes this file writes: a folded iSCSI name. */
		if (!target_scope(scopes[i], chk, sizeof(chk), NULL, 0) || strcmp(chk, scopes[i]))
			continue;
		if (!(tgt = scope_settings(d, scopes[i], rep))) {
			json_decref(a);
			a = NULL;
			break;
		}
		json_array_append_new(a, target_json(scopes[i], node, tgt));
		json_decref(tgt);
	}
	lun_store_free_strings(scopes, n);
	json_decref(node);
	rep->result = a;
}

/* ---- changes */

int lund_tunable_change(const char *name, const json_t *val, bool target, char *key,
			size_t keycap, char *text, size_t textcap, struct lund_reply *rep)
{
	const struct tunable *t = tunable_find(name);
	char q[80], names[400] = "";
	const char *s;
	unsigned v;

	if (!t) {
		for (size_t i = 0; i < NTUNABLES; i++)
			if (!target || !tunables[i].node_only)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", i ? ", " : "", tunables[i].name);
		FAIL(rep, LUND_EBADREQ, "unknown tunable '%s' (%s)", quote(name, q, sizeof(q)),
		     names);
		return -1;
	}
	if (target && t->node_only) {
		FAIL(rep, LUND_EBADREQ, "tunable '%s' applies to the initiator node only: it "
					"governs discovery, which is not per target", t->name);
		return -1;
	}
	if (t->kind == TUN_ONOFF) {
		s = json_string_value(val);
		if (!s || (strcmp(s, "on") && strcmp(s, "off"))) {
			FAIL(rep, LUND_EBADREQ, "tunable '%s' must be \"on\" or \"off\"", t->name);
			return -1;
		}
		v = !strcmp(s, "on");
	} else {
		if (!json_is_integer(val) || json_integer_value(val) < t->min ||
		    json_integer_value(val) > t->max) {
			FAIL(rep, LUND_EBADREQ, "tunable '%s' must be whole seconds from %u to %u",
			     t->name, t->min, t->max);
			return -1;
		}
		v = (unsigned)json_integer_value(val);
	}
	snprintf(key, keycap, "tunable.%s", t->name);
	tunable_text(t, v, text, textcap);
	return 0;
}

/* A string member without NUL bytes (JSON allows "\u0000"; the store keeps
 * C strings, so a secret would be cut short without a word). */
static const char *string_member(const json_t *val)
{
	const char *s = json_string_value(val);

	return s && strlen(s) == json_string_length(val) ? s : NULL;
}

/* One validated setting of `modify target-param` into kv (text holds values
 * that are not the request's own strings). */
static int target_change(const char *key, const json_t *val, struct lun_store_kv *kv, char *text,
			 size_t textcap, struct lund_reply *rep)
{
	const char *s = string_member(val);
	char q[80];

	if (!strcmp(key, "header-digest") || !strcmp(key, "data-digest")) {
		if (!s || (strcmp(s, "none") && strcmp(s, "crc32c"))) {
			FAIL(rep, LUND_EBADREQ, "%s must be none or crc32c", key);
			return -1;
		}
	} else if (!strcmp(key, "authentication")) {
		if (!s || (strcmp(s, "none") && strcmp(s, "chap"))) {
			FAIL(rep, LUND_EBADREQ, "authentication must be chap or none");
			return -1;
		}
	} else if (!strcmp(key, "bidir-auth")) {
		if (!json_is_boolean(val)) {
			FAIL(rep, LUND_EBADREQ, "bidir-auth must be true or false");
			return -1;
		}
		s = lun_strlcpy(text, json_is_true(val) ? "enabled" : "disabled", textcap) < textcap
			    ? text
			    : NULL;
	} else if (!strcmp(key, "target-chap-name")) {
		if (!s || !s[0] || !lun_text_value_valid(s, TEXT_MAX)) {
			FAIL(rep, LUND_EBADREQ, "target-chap-name must be 1 to %d bytes of text "
						"without control characters", TEXT_MAX);
			return -1;
		}
	} else if (!strcmp(key, "target-chap-secret")) {
		if (!s || !s[0] || strlen(s) > SECRET_MAX) {
			FAIL(rep, LUND_EBADREQ, "target-chap-secret must be a string of 1 to %d "
						"bytes without NUL bytes", SECRET_MAX);
			return -1;
		}
	} else if (!strcmp(key, "configured-sessions")) {
		if (!json_is_integer(val) || json_integer_value(val) < 1 ||
		    json_integer_value(val) > MAX_SESSIONS) {
			FAIL(rep, LUND_EBADREQ, "configured-sessions must be 1 to %d", MAX_SESSIONS);
			return -1;
		}
		snprintf(text, textcap, "%d", (int)json_integer_value(val));
		s = text;
	} else if (!strcmp(key, "chap-name") || !strcmp(key, "chap-secret")) {
		FAIL(rep, LUND_EBADREQ, "%s is the initiator's own CHAP identity (modify "
					"initiator-node); a target's are target-chap-name and "
					"target-chap-secret", key);
		return -1;
	} else {
		FAIL(rep, LUND_EBADREQ, "unknown target-param setting '%s'", quote(key, q, sizeof(q)));
		return -1;
	}
	kv->key = key;
	kv->value = s;
	return 0;
}

/*
 * RFC 7143 12.1.3: a secret that authenticates an initiator must not
 * authenticate a target.  With one secret on both sides a rogue target can
 * answer our challenge by reflecting it back to us in a second login, so
 * mutual CHAP would prove nothing.  Returns -1 with rep set when `secret`
 * is the initiator's own (or the store cannot tell).
 */
static int secret_differs(struct lund *d, const char *secret, struct lund_reply *rep)
{
	char mine[SECRET_MAX + 1], err[256];
	int rc = lun_store_get(d->store, "", "chap-secret", mine, sizeof(mine), err, sizeof(err));
	bool same = rc == 1 && !strcmp(mine, secret);

	explicit_bzero(mine, sizeof(mine));
	if (rc < 0) {
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return -1;
	}
	if (same) {
		FAIL(rep, LUND_EBADREQ, "the target's CHAP secret must differ from the initiator's "
					"own (RFC 7143 12.1.3); nothing was changed");
		return -1;
	}
	return 0;
}

int lund_check_initiator_secret(struct lund *d, const char *secret, struct lund_reply *rep)
{
	char **scopes = NULL, theirs[SECRET_MAX + 1], err[256];
	int n, rc = 0;

	if (!secret)
		return 0;
	n = lun_store_list_scopes(d->store, &scopes, err, sizeof(err));
	if (n < 0) {
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return -1;
	}
	for (int i = 0; i < n && !rc; i++) {
		int got = lun_store_get(d->store, scopes[i], "target-chap-secret", theirs,
					sizeof(theirs), err, sizeof(err));

		if (got < 0) {
			FAIL(rep, LUND_EINTERNAL, "%s", err);
			rc = -1;
		} else if (got == 1 && !strcmp(theirs, secret)) {
			FAIL(rep, LUND_EBADREQ, "the initiator's CHAP secret must differ from the "
						"target CHAP secret of %s (RFC 7143 12.1.3); nothing "
						"was changed", scopes[i]);
			rc = -1;
		}
	}
	explicit_bzero(theirs, sizeof(theirs));
	lun_store_free_strings(scopes, n);
	return rc;
}

static void add_warning(struct lund_reply *rep, const char *text)
{
	size_t n = strlen(rep->warning);

	snprintf(rep->warning + n, sizeof(rep->warning) - n, "%s%s", n ? "; " : "", text);
}

/* After the commit: say what the new state will not do as one might think. */
static void target_warnings(struct lund *d, const char *scope, const char *secret,
			    struct lund_reply *rep)
{
	char v[SECRET_MAX + 1];
	bool have_secret;

	if (secret && strlen(secret) < MIN_SECRET)
		add_warning(rep, "the target's CHAP secret is shorter than 12 bytes (RFC 7143 "
				 "12.1.3)");
	if (!lund_param(d, scope, "bidir-auth", v, sizeof(v)) || strcmp(v, "enabled"))
		return;
	if (!lund_param(d, scope, "authentication", v, sizeof(v)) || strcmp(v, "chap"))
		add_warning(rep, "bi-directional authentication needs CHAP authentication, "
				 "which is off for this target");
	have_secret = lund_param(d, scope, "target-chap-secret", v, sizeof(v)) != NULL;
	explicit_bzero(v, sizeof(v));
	if (!have_secret)
		add_warning(rep, "bi-directional authentication needs the target's CHAP secret "
				 "(--CHAP-secret)");
}

#define MAX_CHANGES 24 /* more than the settings and tunables there are */

static void modify_target_param(struct lund *d, const char *scope, const json_t *args,
				struct lund_reply *rep)
{
	struct lun_store_kv kv[MAX_CHANGES];
	char text[MAX_CHANGES][32], keys[MAX_CHANGES][64], err[256];
	const char *key, *secret = NULL;
	size_t n = 0;
	json_t *val;

	json_object_foreach((json_t *)args, key, val) {
		const char *tk;
		json_t *tv;

		if (!strcmp(key, "target"))
			continue;
		if (strcmp(key, "tunables")) {
			if (n >= MAX_CHANGES) {
				FAIL(rep, LUND_EBADREQ, "too many settings in one request");
				return;
			}
			if (target_change(key, val, &kv[n], text[n], sizeof(text[n]), rep) < 0)
				return;
			if (!strcmp(key, "target-chap-secret"))
				secret = kv[n].value;
			n++;
			continue;
		}
		if (!json_is_object(val)) {
			FAIL(rep, LUND_EBADREQ, "tunables must be an object");
			return;
		}
		json_object_foreach(val, tk, tv) {
			if (n >= MAX_CHANGES) {
				FAIL(rep, LUND_EBADREQ, "too many settings in one request");
				return;
			}
			if (lund_tunable_change(tk, tv, true, keys[n], sizeof(keys[n]), text[n],
						sizeof(text[n]), rep) < 0)
				return;
			kv[n].key = keys[n];
			kv[n].value = text[n];
			n++;
		}
	}
	if (!n) {
		FAIL(rep, LUND_EBADREQ, "modify target-param %s needs at least one setting", scope);
		return;
	}
	if (secret && secret_differs(d, secret, rep) < 0)
		return;
	if (lun_store_set_many(d->store, scope, kv, n, err, sizeof(err)) < 0) {
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		lund_log(LOG_INFO, "target-param %s: %s changed", scope, kv[i].key);
	target_warnings(d, scope, secret, rep);
}

static void remove_target_param(struct lund *d, const char *scope, const json_t *args,
				struct lund_reply *rep)
{
	char err[256];
	int rc;

	if (json_object_size(args) != 1) {
		FAIL(rep, LUND_EBADREQ, "remove target-param takes only {target}");
		return;
	}
	rc = lun_store_unset_scope(d->store, scope, err, sizeof(err));
	if (rc < 0) {
		FAIL(rep, LUND_EINTERNAL, "%s", err);
		return;
	}
	if (rc == 0) {
		FAIL(rep, LUND_ECONFLICT, "target-param %s is not configured", scope);
		return;
	}
	lund_log(LOG_INFO, "target-param %s removed (%d settings)", scope, rc);
}

void lund_target_param(struct lund *d, const char *op, const json_t *args,
		       struct lund_reply *rep)
{
	char scope[SCOPE_MAX];
	const json_t *target;

	if (!strcmp(op, "list")) {
		list_target_params(d, rep);
		return;
	}
	if (strcmp(op, "modify") && strcmp(op, "remove")) {
		FAIL(rep, LUND_EBADREQ, "'%s target-param' is not a known command (target-param "
					"takes list, modify and remove)", op);
		return;
	}
	target = args ? json_object_get(args, "target") : NULL;
	if (!string_member(target)) {
		FAIL(rep, LUND_EBADREQ, "%s target-param needs {\"target\": iSCSI name}", op);
		return;
	}
	if (!target_scope(json_string_value(target), scope, sizeof(scope), rep->err,
			  sizeof(rep->err))) {
		rep->code = LUND_EBADREQ;
		return;
	}
	if (!strcmp(op, "modify"))
		modify_target_param(d, scope, args, rep);
	else
		remove_target_param(d, scope, args, rep);
}
