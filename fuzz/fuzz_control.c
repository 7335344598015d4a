/*
 * fuzz_control.c - the control socket's request handling: arbitrary bytes
 * as one frame's JSON, through lund_handle_request() with a peer that may
 * change state, against a real store in a temporary directory.  Every reply
 * must be well formed: ok with a result, or an error code with a sentence.
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
	lund_handle_request(&fz, &peer, req, &rep);
	if (rep.code == LUND_OK) {
		char *txt = rep.result ? json_dumps(rep.result, JSON_COMPACT) : NULL;

		free(txt);
	} else if (!rep.err[0] || rep.code < 1 || rep.code > 5) {
		abort(); /* an error without a sentence or with an unknown code */
	}
	json_decref(rep.result);
	json_decref(req);
	return 0;
}
