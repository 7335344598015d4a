/*
 * ctl.c - floor 6: the client of the lunarisd control socket.
 *
 * One deadline covers each request/reply exchange, so that a daemon that
 * accepts but hangs (stuck in its store, stopped with SIGSTOP) costs the
 * user ten seconds and a sentence, not a hung shell.  Unix sockets connect
 * synchronously; the send timeout bounds connect() when the listen backlog
 * is full.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "util.h"

const char *ctl_run_dir(const char *opt)
{
	const char *env = getenv("LUNARIS_RUN_DIR");

	if (opt && *opt)
		return opt;
	return env && *env ? env : CTL_DEFAULT_RUN_DIR;
}

int ctl_connect(struct ctl_conn *cc, const char *run_dir, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_MS / 1000 };
	int e;

	cc->fd = -1;
	cc->timeout_ms = CTL_TIMEOUT_MS;
	if ((size_t)snprintf(cc->path, sizeof(cc->path), "%s/control", run_dir) >=
	    sizeof(sa.sun_path)) {
		lun_seterr(err, errlen, "run directory '%s' is too long for a socket path "
					"(at most %zu characters)", run_dir,
			   sizeof(sa.sun_path) - sizeof("/control"));
		return ADMIN_EXIT_USAGE;
	}
	memcpy(sa.sun_path, cc->path, strlen(cc->path) + 1);
	cc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cc->fd < 0) {
		lun_seterr(err, errlen, "cannot create a socket: %s", strerror(errno));
		return ADMIN_EXIT_INTERNAL;
	}
	setsockopt(cc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(cc->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		if (fcntl(cc->fd, F_SETFL, O_NONBLOCK) == 0)
			return 0;
		lun_seterr(err, errlen, "cannot set up the socket: %s", strerror(errno));
		ctl_close(cc);
		return ADMIN_EXIT_INTERNAL;
	}
	e = errno;
	close(cc->fd);
	cc->fd = -1;
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		lun_seterr(err, errlen, "lunarisd is not running (no socket at %s)", cc->path);
		return ADMIN_EXIT_CONN;
	case ECONNREFUSED:
		lun_seterr(err, errlen, "lunarisd is not running (%s refuses connections; a "
					"stale socket?)", cc->path);
		return ADMIN_EXIT_CONN;
	case EACCES:
	case EPERM:
		lun_seterr(err, errlen, "permission denied: cannot connect to %s (root or the "
					"lunaris group may)", cc->path);
		return ADMIN_EXIT_PERM;
	case EAGAIN:
	case EINPROGRESS:
		lun_seterr(err, errlen, "lunarisd at %s is not accepting connections (busy for "
					"%d s)", cc->path, CTL_TIMEOUT_MS / 1000);
		return ADMIN_EXIT_CONN;
	default:
		lun_seterr(err, errlen, "cannot connect to %s: %s", cc->path, strerror(e));
		return ADMIN_EXIT_CONN;
	}
}

static int ctl_remaining_ms(uint64_t deadline)
{
	uint64_t now = lun_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Wait until fd is ready for `events` or the deadline passes: 0, -1 timeout,
 * -2 error (errno). */
static int ctl_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r, ms;

	for (;;) {
		ms = ctl_remaining_ms(deadline);
		if (ms == 0)
			return -1;
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -1;
		if (errno != EINTR)
			return -2;
	}
}

static int ctl_send_all(struct ctl_conn *cc, const uint8_t *buf, size_t n, uint64_t deadline,
			char *err, size_t errlen)
{
	while (n) {
		ssize_t w = send(cc->fd, buf, n, MSG_NOSIGNAL);

		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = ctl_wait(cc->fd, POLLOUT, deadline);

			if (r == 0)
				continue;
			if (r == -1)
				lun_seterr(err, errlen, "lunarisd did not take the request "
							"within %d s", cc->timeout_ms / 1000);
			else
				lun_seterr(err, errlen, "sending to lunarisd failed: %s",
					   strerror(errno));
			return ADMIN_EXIT_CONN;
		}
		lun_seterr(err, errlen, "lunarisd closed the connection (%s)",
			   w < 0 ? strerror(errno) : "no data sent");
		return ADMIN_EXIT_CONN;
	}
	return 0;
}

static int ctl_recv_all(struct ctl_conn *cc, uint8_t *buf, size_t n, uint64_t deadline,
			char *err, size_t errlen)
{
	while (n) {
		ssize_t r = recv(cc->fd, buf, n, 0);

		if (r > 0) {
			buf += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = ctl_wait(cc->fd, POLLIN, deadline);

			if (w == 0)
				continue;
			if (w == -1)
				lun_seterr(err, errlen, "lunarisd did not answer within %d s",
					   cc->timeout_ms / 1000);
			else
				lun_seterr(err, errlen, "receiving from lunarisd failed: %s",
					   strerror(errno));
			return ADMIN_EXIT_CONN;
		}
		lun_seterr(err, errlen, "lunarisd closed the connection without a complete reply%s",
			   r < 0 ? " (connection reset)" : "");
		return ADMIN_EXIT_CONN;
	}
	return 0;
}

/* The JSON is encoded straight into the frame (json_dumpb), so the only
 * copy of a secret outside jansson is this buffer, wiped after sending. */
static int ctl_send(struct ctl_conn *cc, const json_t *req, uint64_t deadline, char *err,
		    size_t errlen)
{
	size_t n = json_dumpb(req, NULL, 0, JSON_COMPACT);
	uint8_t *frame;
	int rc;

	if (n == 0 || n > CTL_MAX_MESSAGE) {
		lun_seterr(err, errlen, "the request cannot be encoded (%zu bytes)", n);
		return ADMIN_EXIT_INTERNAL;
	}
	frame = malloc(n + 4);
	if (!frame) {
		lun_seterr(err, errlen, "out of memory");
		return ADMIN_EXIT_INTERNAL;
	}
	lun_put_be32(frame, (uint32_t)n);
	if (json_dumpb(req, (char *)frame + 4, n, JSON_COMPACT) != n) {
		lun_seterr(err, errlen, "the request cannot be encoded");
		rc = ADMIN_EXIT_INTERNAL;
	} else {
		rc = ctl_send_all(cc, frame, n + 4, deadline, err, errlen);
	}
	explicit_bzero(frame, n + 4);
	free(frame);
	return rc;
}

int ctl_call(struct ctl_conn *cc, const json_t *req, json_t **reply, char *err, size_t errlen)
{
	uint64_t deadline = lun_now_ns() + (uint64_t)cc->timeout_ms * 1000000u;
	uint8_t hdr[4];
	uint32_t n;
	char *body;
	json_error_t je;
	int rc;

	*reply = NULL;
	if ((rc = ctl_send(cc, req, deadline, err, errlen)) != 0)
		return rc;
	if ((rc = ctl_recv_all(cc, hdr, sizeof(hdr), deadline, err, errlen)) != 0)
		return rc;
	n = lun_get_be32(hdr);
	if (n == 0 || n > CTL_MAX_MESSAGE) {
		lun_seterr(err, errlen, "lunarisd sent a reply of %u bytes (malformed)", n);
		return ADMIN_EXIT_INTERNAL;
	}
	body = malloc(n);
	if (!body) {
		lun_seterr(err, errlen, "out of memory");
		return ADMIN_EXIT_INTERNAL;
	}
	rc = ctl_recv_all(cc, (uint8_t *)body, n, deadline, err, errlen);
	if (rc == 0) {
		*reply = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(*reply)) {
			lun_seterr(err, errlen, "lunarisd sent a malformed reply (%s)",
				   *reply ? "not an object" : je.text);
			json_decref(*reply);
			*reply = NULL;
			rc = ADMIN_EXIT_INTERNAL;
		}
	}
	free(body);
	return rc;
}

void ctl_close(struct ctl_conn *cc)
{
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
}
