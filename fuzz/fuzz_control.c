/*
 * fuzz_control.c - the control socket's request handling: arbitrary bytes
 * as one frame's JSON, through lund_handle_request() with a peer that may
 * change state, against a real store in a temporary directory.  Every reply
 * must be well formed: ok with a result, or an error code with a sentence.
 *
 * Secrets: the store is seeded with an initiator CHAP secret and a target's
 * (target-param) secret, two canaries, and no reply (result, error or
 * warning) may ever contain either.  Only a request that itself holds a
 * canary (after JSON decoding) could put one into a stored name, so the
 * first such request turns this check off for the rest of the run.  The search is a plain loop, not
 * memmem, which libFuzzer would watch and feed the canary from.
 * target-param replies must also be encodable as JSON (UTF-8 errors).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* offline: a fuzzed discovery address must never be connected to */
static struct lund fz = { .listen_fd = -1, .control_gid = (gid_t)-1, .offline = true };
static char dir[64];

#define CANARY_I "Qz7initiatorCanary-3141"
#define CANARY_T "Wx9targetCanary-2718"
#define FZ_TARGET "iqn.2024-01.fuzz.lunaris:canary"
static bool tainted; /* a request held a canary: the secret check is off */

static bool fz_contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++) {
		size_t j = 0;

		while (j < m && hay[i + j] == needle[j])
			j++;
		if (j == m)
			return true;
	}
	return false;
}

static bool fz_has_canary(const char *s, size_t n)
{
	return s && (fz_contains(s, n, CANARY_I) || fz_contains(s, n, CANARY_T));
}

static void fz_seed(const char *json)
{
	struct lund_peer peer = { .pid = 1, .may_change = true };
	struct lund_reply rep = { 0 };
	json_t *req = json_loads(json, 0, NULL);

	lund_handle_request(&fz, &peer, req, &rep);
	if (rep.code != LUND_OK) {
		fprintf(stderr, "seeding failed: %s\n", rep.err);
		abort();
	}
	json_decref(rep.result);
	json_decref(req);
}

static void cleanup(void)
{
	char cmd[128];

	lun_store_close(fz.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void setup(void)
{
	char path[128], err[256];

	snprintf(dir, sizeof(dir), "/tmp/fuzz_control.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/lunaris.db", dir);
	fz.store = lun_store_open(path, err, sizeof(err));
	if (!fz.store) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	lund_log_init(true);
	lund_log_set_level(LOG_ERR);
	atexit(cleanup);
	fz_seed("{\"op\":\"modify\",\"object\":\"initiator-node\",\"args\":"
		"{\"chap-secret\":\"" CANARY_I "\"}}");
	fz_seed("{\"op\":\"modify\",\"object\":\"target-param\",\"args\":"
		"{\"target\":\"" FZ_TARGET "\",\"target-chap-secret\":\"" CANARY_T "\"}}");
	/* the lookups of the session code see what was set, each from its scope */
	char buf[64];

	if (!lund_param(&fz, FZ_TARGET, "target-chap-secret", buf, sizeof(buf)) ||
	    strcmp(buf, CANARY_T) ||
	    !lund_param(&fz, FZ_TARGET, "chap-secret", buf, sizeof(buf)) ||
	    strcmp(buf, CANARY_I) || lund_param(&fz, NULL, "target-chap-secret", buf, sizeof(buf)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lund_peer peer = { .pid = 1, .uid = 0, .gid = 0, .may_change = true };
	struct lund_reply rep = { 0 };
	json_t *req;

	if (!fz.store)
		setup();
	req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!req)
		return 0;
	if (!tainted) {
		/* the decoded request: "\u0051" spells a 'Q' too */
		char *in = json_dumps(req, JSON_COMPACT);

		tainted = !in || fz_has_canary(in, strlen(in));
		free(in);
	}
	lund_handle_request(&fz, &peer, req, &rep);
	if (rep.code == LUND_OK) {
		char *txt = rep.result ? json_dumps(rep.result, JSON_COMPACT) : NULL;

		if (!tainted && txt && fz_has_canary(txt, strlen(txt)))
			abort(); /* a secret in a result */
		free(txt);
	} else if (!rep.err[0] || rep.code < 1 || rep.code > 6) {
		abort(); /* an error without a sentence or with an unknown code */
	}
	if (!tainted && (fz_has_canary(rep.err, strlen(rep.err)) ||
			 fz_has_canary(rep.warning, strlen(rep.warning))))
		abort(); /* a secret in an error or a warning */
	json_t *e = json_string(rep.err), *w = json_string(rep.warning);

	if (!e || !w)
		abort(); /* the reply could not be sent: not UTF-8 */
	json_decref(e);
	json_decref(w);
	json_decref(rep.result);
	json_decref(req);
	return 0;
}
