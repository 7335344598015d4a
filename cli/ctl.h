/*
 * ctl.h - floor 6: the client side of the lunarisd control socket
 * (docs/control-protocol.md): 4-byte big-endian length + one JSON object,
 * both ways.
 */
#ifndef LUNARIS_CTL_H
#define LUNARIS_CTL_H

#include <stddef.h>

#include <jansson.h>

#define CTL_DEFAULT_RUN_DIR "/run/lunaris"
#define CTL_TIMEOUT_MS 10000 /* for each reply */
#define CTL_MAX_MESSAGE (1u << 20)

struct ctl_conn {
	int fd;
	char path[108]; /* the socket, for messages */
	int timeout_ms; /* per reply; ctl_connect sets CTL_TIMEOUT_MS */
};

/* -R value, else $LUNARIS_RUN_DIR, else /run/lunaris. */
const char *ctl_run_dir(const char *opt);

/* Connect to <run_dir>/control.  Returns 0, or an admin exit code (2 not
 * running / unreachable, 3 permission denied, 1 path too long) with a
 * sentence in err. */
int ctl_connect(struct ctl_conn *cc, const char *run_dir, char *err, size_t errlen);

/*
 * Send one request and wait up to CTL_TIMEOUT_MS for its reply.  On 0,
 * *reply is the reply object (caller json_decref's it), whatever its "ok".
 * Otherwise an admin exit code (2 connection lost / no answer, 5 malformed
 * reply) with err.  The encoded request is wiped from memory after sending,
 * since it may hold a CHAP secret.
 */
int ctl_call(struct ctl_conn *cc, const json_t *req, json_t **reply, char *err, size_t errlen);

void ctl_close(struct ctl_conn *cc);

#endif
