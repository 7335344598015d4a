/*
 * isns.c - iSNS discovery (RFC 4171) inside lunarisd's event loop.
 *
 * Per configured iSNS server, while the iSNS discovery method is enabled:
 *
 *   connect -> DevAttrReg (our entity, a portal whose SCN port is ours, our
 *   initiator node) -> SCNReg -> query: DevGetNext over the target nodes,
 *   then one DevAttrQry per target for its portal groups -> the target list
 *   that `list isns-server -v` shows and bus configuration logs in to.
 *
 * How open-isns's isnsd (0.101) delivers SCNs, as observed with tshark: it
 * does not use the registration connection.  It opens a TCP connection to
 * the Portal IP Address : SCN Port that the node's entity registered, keeps
 * it for later SCNs, and waits for an SCNRsp to each; it rejects an SCNReg
 * for a node whose entity has no portal with an SCN port.  So each server
 * gets a listening socket of its own, bound to the local address of our
 * connection to that server (not to 0.0.0.0), and only that server's
 * address may connect to it.  ESI is sent the same way, but only to portals
 * that registered an ESI port, which lunarisd does not: the registration
 * is kept alive by re-registering at half the registration period instead.
 * An ESI that arrives anyway is answered.
 *
 * The client connection stays open between requests, so a server that goes
 * away is noticed at once (end of file): the connection is made again and
 * the registration renewed; if that fails, it is retried with a backoff
 * doubling from 1 s to LUND_ISNS_BACKOFF_MAX_S, and the first success
 * registers and queries again (SCNs may have been missed meanwhile).  isnsd
 * also closes a client connection that was idle for 300 s; that costs one
 * reconnect and re-registration, no query.
 *
 * Storm guards as in discovery.c: a query that is planned and not started
 * answers later requests too (coalesced); queries of one server start at
 * most once per discovery-min-interval, later requests wait for the end of
 * the interval and are merged into one (rate limited); SCNs are gathered
 * for LUND_ISNS_SCN_SETTLE_MS first, so the burst one registration causes is
 * one query.  Every run goes into the history with its cause chain
 * ("discovery isns 127.0.0.1:3205 <- scn object-added iqn...").
 *
 * Each server's answer is kept in the store like a SendTargets answer
 * (discovery.c, lund_disc_save): a record starts with the stored answer as
 * a remembered result, so bus configuration logs in to its targets before
 * the server answers, or while it does not.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "probes.h"
#include "isns.h"
#include "util.h"

#define LUND_ISNS_MAX 16
#define LUND_ISNS_SCN_CONNS 4 /* SCN connections from one server at a time */
#define LUND_ISNS_IO_TIMEOUT_MS 10000 /* connect, and each answer */
#define LUND_ISNS_DEREG_TIMEOUT_MS 3000 /* remove isns-server: best effort */
#define LUND_ISNS_BACKOFF_MAX_S 60
#define LUND_ISNS_SCN_SETTLE_MS 250
#define LUND_ISNS_MAX_NODES 4096 /* a DevGetNext walk longer than this is a loop */
#define LUND_ISNS_SCN_BITS                                                            \
	(LUN_ISNS_SCN_OBJECT_ADDED | LUN_ISNS_SCN_OBJECT_REMOVED | LUN_ISNS_SCN_OBJECT_UPDATED | \
	 LUN_ISNS_SCN_TARGET_AND_SELF_ONLY)
#define MS 1000000ull
#define NS 1000000000ull

/* One TCP connection that carries iSNS PDUs. */
struct pconn {
	int fd;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t out[LUN_ISNS_MAX_REQ];
	size_t out_len, out_off;
	struct lun_isns_reasm ra;
	uint64_t stall_ns; /* a partial PDU must be complete by then */
};

enum conn_state { CS_DOWN, CS_CONNECTING, CS_READY, CS_WAIT };
enum step { ST_NONE, ST_REG, ST_SCN_REG, ST_NEXT, ST_QRY, ST_DEREG };

/* Work a server record owes, done in this order. */
#define W_REG 1u /* DevAttrReg + SCNReg */
#define W_QUERY 2u

struct isrv {
	bool used, closing; /* closing: removed, deregistering */
	char host[256];
	uint16_t port;
	char label[300]; /* "127.0.0.1:3205", "[::1]:3205" */

	struct pconn c;
	enum conn_state cs;
	enum step step;
	uint16_t xid;
	uint64_t deadline_ns;
	uint8_t peer[16]; /* the server's address (SCN connections must come from it) */
	bool have_peer;

	unsigned work;
	char reg_cause[LUN_CAUSE_MAX_D], query_cause[LUN_CAUSE_MAX_D];
	char told[LUN_CAUSE_MAX_D]; /* the cause the history last showed */
	bool query_running, query_owed; /* owed: asked for while running */
	char owed_cause[LUN_CAUSE_MAX_D];
	uint64_t last_query_ns, deferred_ns;
	char deferred_cause[LUN_CAUSE_MAX_D];

	/* registration */
	char name[224], eid[240];
	bool registered, replace, scn_registered;
	uint32_t reg_period;
	uint64_t refresh_ns;
	unsigned backoff_s;
	uint64_t retry_ns; /* CS_DOWN: connect again then (0: not planned) */

	/* the walk: DevGetNext position, then the targets found, queried in turn */
	char last_node[224];
	unsigned steps;
	char (*walk)[224];
	size_t nwalk, walk_at;
	struct lunaris_target_list building;

	/* results */
	struct lunaris_target_list targets;
	bool have_result;
	bool from_store; /* targets are the stored answer: no query answered yet */
	struct lund_disc_saved saved;
	unsigned queries, scn_received, esi_received, coalesced, limited, failures;
	char last_error[256];

	/* SCN delivery */
	int lfd;
	uint8_t laddr[16];
	uint16_t scn_port;
	struct pconn scn[LUND_ISNS_SCN_CONNS];
};

static struct isrv srvs[LUND_ISNS_MAX];
static struct lund *isns_d; /* one daemon per process */

static void hist(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hist(const char *fmt, ...)
{
	char line[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lund_history_add(line);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void pconn_init(struct pconn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void pconn_close(struct pconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	lun_isns_reasm_free(&c->ra);
	pconn_init(c);
}

/* Queue one PDU and try to send it at once. */
static int pconn_send(struct pconn *c, const struct lun_isns_msg *m, char *err, size_t errlen)
{
	ssize_t w;

	if (c->out_len || m->len > sizeof(c->out)) {
		lun_seterr(err, errlen, "internal: a PDU is still being sent");
		return -1;
	}
	memcpy(c->out, m->buf, m->len);
	c->out_len = m->len;
	c->out_off = 0;
	while (c->out_off < c->out_len) {
		w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0; /* the rest on POLLOUT */
		if (w < 0) {
			lun_seterr(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
		c->out_off += (size_t)w;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

static int pconn_flush(struct pconn *c, char *err, size_t errlen)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0) {
			lun_seterr(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
		c->out_off += (size_t)w;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

/* Read what arrived.  Returns 1 and a complete message in c->ra (buf, len,
 * func, xid) when one is there, 0 when more bytes are needed, -1 with err
 * on end of file, a socket error or a malformed PDU.  Call again after 1:
 * a batch may hold several messages. */
static int pconn_recv(struct pconn *c, char *err, size_t errlen)
{
	for (;;) {
		struct lun_isns_hdr h;

		if (c->in_len >= LUN_ISNS_HDR_LEN) {
			size_t total;

			if (lun_isns_hdr_decode(c->in, c->in_len, &h, err, errlen))
				return -1;
			total = LUN_ISNS_HDR_LEN + h.len;
			if (c->in_len >= total) {
				int rc = lun_isns_reasm_add(&c->ra, &h, c->in + LUN_ISNS_HDR_LEN, err,
							    errlen);

				memmove(c->in, c->in + total, c->in_len - total);
				c->in_len -= total;
				c->stall_ns = c->in_len ? lun_now_ns() + LUND_ISNS_IO_TIMEOUT_MS * MS : 0;
				if (rc)
					return rc;
				continue;
			}
			if (c->in_cap < total) {
				uint8_t *b = realloc(c->in, total);

				if (!b) {
					lun_seterr(err, errlen, "out of memory for a %zu-byte PDU", total);
					return -1;
				}
				c->in = b;
				c->in_cap = total;
			}
		} else if (c->in_cap < 4096) {
			uint8_t *b = realloc(c->in, 4096);

			if (!b) {
				lun_seterr(err, errlen, "out of memory");
				return -1;
			}
			c->in = b;
			c->in_cap = 4096;
		}
		ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r < 0) {
			lun_seterr(err, errlen, "receive: %s", strerror(errno));
			return -1;
		}
		if (r == 0) {
			lun_seterr(err, errlen, c->in_len ? "the connection closed inside a PDU"
							  : "the server closed the connection");
			return -1;
		}
		if (!c->in_len)
			c->stall_ns = lun_now_ns() + LUND_ISNS_IO_TIMEOUT_MS * MS;
		c->in_len += (size_t)r;
	}
}

static void addr_of(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

static struct isrv *srv_find(const char *host, uint16_t port)
{
	for (int i = 0; i < LUND_ISNS_MAX; i++)
		if (srvs[i].used && !srvs[i].closing && srvs[i].port == port &&
		    !strcasecmp(srvs[i].host, host))
			return &srvs[i];
	return NULL;
}

static struct isrv *srv_new(const char *host, uint16_t port)
{
	for (int i = 0; i < LUND_ISNS_MAX; i++) {
		struct isrv *x = &srvs[i];

		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		x->used = true;
		lun_strlcpy(x->host, host, sizeof(x->host));
		x->port = port;
		snprintf(x->label, sizeof(x->label), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
			 port);
		pconn_init(&x->c);
		x->lfd = -1;
		for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++)
			pconn_init(&x->scn[k]);
		x->replace = true; /* replace what an earlier lunarisd registered */
		return x;
	}
	return NULL;
}

static void walk_reset(struct isrv *x)
{
	free(x->walk);
	x->walk = NULL;
	x->nwalk = x->walk_at = 0;
	x->last_node[0] = '\0';
	x->steps = 0;
	lunaris_target_list_free(&x->building);
}

static void scn_close_all(struct isrv *x)
{
	for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++)
		pconn_close(&x->scn[k]);
	if (x->lfd >= 0)
		close(x->lfd);
	x->lfd = -1;
	x->scn_port = 0;
}

static void srv_free(struct isrv *x)
{
	pconn_close(&x->c);
	scn_close_all(x);
	walk_reset(x);
	lunaris_target_list_free(&x->targets);
	memset(x, 0, sizeof(*x));
	/* descriptor 0 is a descriptor: a free record holds none */
	pconn_init(&x->c);
	for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++)
		pconn_init(&x->scn[k]);
	x->lfd = -1;
}

/* ------------------------------------------------------------------ */
/* Steps                                                               */

static void srv_kick(struct isrv *x);

static void initiator_name(char *buf, size_t cap)
{
	if (isns_d && isns_d->initiator_name[0])
		lun_strlcpy(buf, isns_d->initiator_name, cap);
	else
		lunaris_default_initiator_name(buf, cap);
}

/* A failure of the connection or the protocol: everything is redone once
 * the server answers again, after a backoff. */
static void srv_fail(struct isrv *x, const char *what, const char *error)
{
	char line[512];

	pconn_close(&x->c);
	x->cs = CS_DOWN;
	x->step = ST_NONE;
	if (x->closing) { /* deregistration is best effort */
		hist("isns %s: DevDereg not done: %s", x->label, error);
		srv_free(x);
		return;
	}
	x->failures++;
	x->backoff_s = x->backoff_s ? x->backoff_s * 2 : 1;
	if (x->backoff_s > LUND_ISNS_BACKOFF_MAX_S)
		x->backoff_s = LUND_ISNS_BACKOFF_MAX_S;
	x->retry_ns = lun_now_ns() + x->backoff_s * NS;
	lun_strlcpy(x->last_error, error, sizeof(x->last_error));
	snprintf(line, sizeof(line), "discovery isns %s failed%s%s: %s; retry in %u s", x->label,
		 what ? " in " : "", what ? what : "", error, x->backoff_s);
	lund_history_add(line);
	lund_log(LOG_WARNING, "%s", line);
	/* The server may have lost us and we may have missed SCNs. */
	x->registered = x->scn_registered = false;
	if (!(x->work & W_REG))
		snprintf(x->reg_cause, sizeof(x->reg_cause), "recovery after: %s", error);
	if (!(x->work & W_QUERY) && !x->query_running)
		snprintf(x->query_cause, sizeof(x->query_cause), "recovery after: %s", error);
	x->work |= W_REG | W_QUERY;
	x->query_running = false;
	x->told[0] = '\0';
	walk_reset(x);
}

static int send_msg(struct isrv *x, struct lun_isns_msg *m, enum step st, const char *what)
{
	char err[256];

	if (pconn_send(&x->c, m, err, sizeof(err)) < 0) {
		srv_fail(x, what, err);
		return -1;
	}
	x->step = st;
	x->cs = CS_WAIT;
	x->deadline_ns = lun_now_ns() +
			 (x->closing ? LUND_ISNS_DEREG_TIMEOUT_MS : LUND_ISNS_IO_TIMEOUT_MS) * MS;
	return 0;
}

/* Listen for SCNs on the local address of the connection to the server. */
static void scn_listen(struct isrv *x)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t a[16];

	if (getsockname(x->c.fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	addr_of(&ss, a);
	if (x->lfd >= 0 && !memcmp(a, x->laddr, 16))
		return;
	scn_close_all(x);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	x->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->lfd < 0 || bind(x->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(x->lfd, 4) < 0 ||
	    getsockname(x->lfd, (struct sockaddr *)&ss, &sl) < 0) {
		hist("isns %s: no SCN listener: %s", x->label, strerror(errno));
		if (x->lfd >= 0)
			close(x->lfd);
		x->lfd = -1;
		return;
	}
	memcpy(x->laddr, a, 16);
	x->scn_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* "discovery isns H:P <- cause" once per cause: a registration and the
 * query that follows it for the same reason are one line. */
static void announce(struct isrv *x, const char *cause)
{
	if (!strcmp(cause, x->told))
		return;
	lun_strlcpy(x->told, cause, sizeof(x->told));
	hist("discovery isns %s <- %s", x->label, cause);
	LUND_PROBE_DISCOVERY("isns", x->label, cause);
}

static void start_reg(struct isrv *x)
{
	struct lun_isns_msg m;
	struct lun_isns_reg r;
	char err[256], name[224];

	initiator_name(name, sizeof(name));
	if (strcmp(name, x->name)) {
		/* The entity keeps the name it got first; registering it again
		 * with the replace flag drops a node of an earlier name. */
		lun_strlcpy(x->name, name, sizeof(x->name));
		if (!x->eid[0])
			snprintf(x->eid, sizeof(x->eid), "lunaris:%s", name);
		x->replace = true;
	}
	announce(x, x->reg_cause);
	scn_listen(x);
	r = (struct lun_isns_reg){ .source = x->name,
				   .eid = x->eid,
				   .portal_addr = x->lfd >= 0 ? x->laddr : NULL,
				   .portal_port = x->scn_port,
				   .scn_port = x->scn_port,
				   .replace = x->replace };
	if (lun_isns_build_reg(&m, ++x->xid, &r, err, sizeof(err)) < 0) {
		srv_fail(x, "DevAttrReg", err);
		return;
	}
	send_msg(x, &m, ST_REG, "DevAttrReg");
}

static void start_scn_reg(struct isrv *x)
{
	struct lun_isns_msg m;
	char err[256];

	if (lun_isns_build_scn_reg(&m, ++x->xid, x->name, LUND_ISNS_SCN_BITS, err, sizeof(err)) < 0)
		srv_fail(x, "SCNReg", err);
	else
		send_msg(x, &m, ST_SCN_REG, "SCNReg");
}

static void start_next(struct isrv *x)
{
	struct lun_isns_msg m;
	char err[256];

	if (lun_isns_build_getnext(&m, ++x->xid, x->name, x->last_node, LUN_ISNS_NODE_TARGET, err,
				   sizeof(err)) < 0)
		srv_fail(x, "DevGetNext", err);
	else
		send_msg(x, &m, ST_NEXT, "DevGetNext");
}

static void start_qry(struct isrv *x)
{
	struct lun_isns_msg m;
	char err[256];

	if (lun_isns_build_qry_portals(&m, ++x->xid, x->name, x->walk[x->walk_at], err,
				       sizeof(err)) < 0)
		srv_fail(x, "DevAttrQry", err);
	else
		send_msg(x, &m, ST_QRY, "DevAttrQry");
}

static void start_dereg(struct isrv *x)
{
	struct lun_isns_msg m;
	char err[256];

	if (lun_isns_build_dereg(&m, ++x->xid, x->name, x->eid, err, sizeof(err)) < 0)
		srv_fail(x, "DevDereg", err);
	else
		send_msg(x, &m, ST_DEREG, "DevDereg");
}

static void start_query(struct isrv *x)
{
	x->work &= ~W_QUERY;
	x->query_running = true;
	x->queries++;
	x->last_query_ns = lun_now_ns();
	walk_reset(x);
	announce(x, x->query_cause);
	start_next(x);
}

/* The query is complete: the new list replaces the old one, and bus
 * configuration hears of it with this query's cause. */
static void finish_query(struct isrv *x)
{
	char chain[LUN_CAUSE_MAX_D + 320];
	size_t np = 0;

	if (isns_d)
		lund_disc_save(isns_d, LUN_DISC_ISNS, x->label, &x->targets, &x->building,
			       &x->saved);
	lunaris_target_list_free(&x->targets);
	x->targets = x->building;
	x->building = (struct lunaris_target_list){ 0 };
	x->have_result = true;
	x->from_store = false;
	x->query_running = false;
	x->backoff_s = 0;
	x->last_error[0] = '\0';
	for (size_t i = 0; i < x->targets.count; i++)
		np += x->targets.targets[i].nportals;
	hist("discovery isns %s: %zu target%s, %zu portal%s", x->label, x->targets.count,
	     x->targets.count == 1 ? "" : "s", np, np == 1 ? "" : "s");
	free(x->walk);
	x->walk = NULL;
	x->nwalk = x->walk_at = 0;
	snprintf(chain, sizeof(chain), "discovery isns %s <- %s", x->label, x->query_cause);
	if (isns_d)
		lund_bus_targets_changed(isns_d, chain);
	if (x->query_owed) {
		/* asked for while this one ran: what it was about may have
		 * been missed, so one more, rate limited */
		x->query_owed = false;
		uint64_t interval =
			isns_d ? (uint64_t)lund_tunable(isns_d, NULL, "discovery-min-interval") * NS
			       : 10 * NS;

		x->limited++;
		if (!x->deferred_ns) {
			x->deferred_ns = x->last_query_ns + interval;
			lun_strlcpy(x->deferred_cause, x->owed_cause, sizeof(x->deferred_cause));
		}
	}
}

/* What to do next on a ready connection. */
static void srv_next_work(struct isrv *x)
{
	if (x->cs != CS_READY)
		return;
	if (x->closing)
		start_dereg(x);
	else if (x->work & W_REG)
		start_reg(x);
	else if (x->work & W_QUERY)
		start_query(x);
	else
		x->told[0] = '\0'; /* the run is over: the next one is announced */
}

static void srv_connect(struct isrv *x)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8], err[300];
	int rc;

	x->retry_ns = 0;
	snprintf(port, sizeof(port), "%u", x->port);
	rc = getaddrinfo(x->host, port, &hints, &res);
	if (rc) {
		snprintf(err, sizeof(err), "cannot resolve %s: %s", x->host, gai_strerror(rc));
		srv_fail(x, NULL, err);
		return;
	}
	x->c.fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->c.fd < 0) {
		snprintf(err, sizeof(err), "socket: %s", strerror(errno));
		freeaddrinfo(res);
		srv_fail(x, NULL, err);
		return;
	}
	addr_of((const struct sockaddr_storage *)(const void *)res->ai_addr, x->peer);
	x->have_peer = true;
	rc = connect(x->c.fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc < 0 && errno != EINPROGRESS) {
		snprintf(err, sizeof(err), "cannot connect to %.200s: %s", x->label, strerror(errno));
		srv_fail(x, NULL, err);
		return;
	}
	x->cs = CS_CONNECTING;
	x->deadline_ns = lun_now_ns() +
			 (x->closing ? LUND_ISNS_DEREG_TIMEOUT_MS : LUND_ISNS_IO_TIMEOUT_MS) * MS;
}

/* Something is owed: make progress if the connection allows. */
static void srv_kick(struct isrv *x)
{
	if (!x->used || (isns_d && isns_d->offline))
		return;
	if (x->cs == CS_DOWN && (x->work || x->closing) && !x->retry_ns)
		srv_connect(x);
	else if (x->cs == CS_READY)
		srv_next_work(x);
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */

static void got_reg(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300];
	uint32_t period;

	if (lun_isns_parse_reg_rsp(ra->func, ra->buf, ra->len, &period, err, sizeof(err)) < 0) {
		srv_fail(x, "DevAttrReg", err);
		return;
	}
	x->registered = true;
	x->replace = false;
	x->reg_period = period;
	/* Half the period leaves room for a retry or two before it expires. */
	x->refresh_ns = period ? lun_now_ns() + (uint64_t)period * NS / 2 : 0;
	hist("isns %s: DevAttrReg %s (entity %s, SCN port %u): registered for %u s", x->label,
	     x->name, x->eid, x->scn_port, period);
	x->cs = CS_READY;
	start_scn_reg(x);
}

static void got_scn_reg(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300];

	x->work &= ~W_REG;
	if (lun_isns_parse_status_rsp(ra->func, LUN_ISNS_SCN_REG, ra->buf, ra->len, err,
				      sizeof(err)) < 0) {
		/* Discovery still works, only changes go unnoticed until
		 * the next query: say so and go on. */
		x->scn_registered = false;
		snprintf(x->last_error, sizeof(x->last_error), "SCNReg: %.240s", err);
		hist("isns %s: SCNReg: %s; changes are seen only by later queries", x->label, err);
	} else {
		x->scn_registered = true;
		hist("isns %s: SCNReg %s: notifications of added, removed and updated targets",
		     x->label, x->name);
	}
	x->cs = CS_READY;
	srv_next_work(x);
}

static void got_next(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300], name[224];
	uint32_t type;
	int rc = lun_isns_parse_getnext_rsp(ra->func, ra->buf, ra->len, name, sizeof(name), &type,
					    err, sizeof(err));

	if (rc < 0) {
		srv_fail(x, "DevGetNext", err);
		return;
	}
	x->cs = CS_READY;
	if (rc == 1) {
		/* An answer that does not move forward would walk forever. */
		if (!strcmp(name, x->last_node) || ++x->steps > LUND_ISNS_MAX_NODES) {
			snprintf(err, sizeof(err), "DevGetNext walk does not end (%u nodes, then %s)",
				 x->steps, name);
			srv_fail(x, "DevGetNext", err);
			return;
		}
		lun_strlcpy(x->last_node, name, sizeof(x->last_node));
		/* The walk is scoped to targets; a server that ignores the
		 * scope still tells the type (0: it did not say). */
		if (!type || type & LUN_ISNS_NODE_TARGET) {
			char(*w)[224] = realloc(x->walk, (x->nwalk + 1) * sizeof(*w));

			if (!w) {
				srv_fail(x, "DevGetNext", "out of memory");
				return;
			}
			x->walk = w;
			lun_strlcpy(x->walk[x->nwalk++], name, sizeof(x->walk[0]));
		}
		start_next(x);
		return;
	}
	/* The walk is done: the portals of each target. */
	x->walk_at = 0;
	if (!x->nwalk) {
		finish_query(x);
		srv_next_work(x);
		return;
	}
	start_qry(x);
}

static int add_target(struct lunaris_target_list *l, const char *name,
		      const struct lun_isns_portal *p, int n)
{
	struct lunaris_target *v = realloc(l->targets, (l->count + 1) * sizeof(*v));
	struct lunaris_target *t;

	if (!v)
		return -1;
	l->targets = v;
	t = &v[l->count];
	memset(t, 0, sizeof(*t));
	lun_strlcpy(t->name, name, sizeof(t->name));
	if (n > 0) {
		t->portals = calloc((size_t)n, sizeof(*t->portals));
		if (!t->portals)
			return -1;
		for (int i = 0; i < n; i++) {
			lun_strlcpy(t->portals[i].host, p[i].host, sizeof(t->portals[i].host));
			t->portals[i].port = p[i].port;
			t->portals[i].tpgt = p[i].tpgt;
		}
		t->nportals = (size_t)n;
	}
	l->count++;
	return 0;
}

static void got_qry(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300];
	struct lun_isns_portal *p = NULL;
	const char *node = x->walk[x->walk_at];
	int n = lun_isns_parse_portals_rsp(ra->func, ra->buf, ra->len, node, &p, err, sizeof(err));

	if (n < 0) {
		srv_fail(x, "DevAttrQry", err);
		return;
	}
	/* A target without a portal group is listed: it exists, but offers
	 * no way in (bus configuration has nothing to log in to). */
	if (add_target(&x->building, node, p, n) < 0) {
		free(p);
		srv_fail(x, "DevAttrQry", "out of memory");
		return;
	}
	free(p);
	x->cs = CS_READY;
	if (++x->walk_at < x->nwalk) {
		start_qry(x);
		return;
	}
	finish_query(x);
	srv_next_work(x);
}

static void got_dereg(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300];

	if (lun_isns_parse_status_rsp(ra->func, LUN_ISNS_DEV_DEREG, ra->buf, ra->len, err,
				      sizeof(err)) < 0)
		hist("isns %s: DevDereg %s: %s", x->label, x->eid, err);
	else
		hist("isns %s: DevDereg %s: deregistered", x->label, x->eid);
	srv_free(x);
}

static void got_answer(struct isrv *x, const struct lun_isns_reasm *ra)
{
	char err[300], f[32];

	if (x->cs != CS_WAIT || ra->xid != x->xid) {
		snprintf(err, sizeof(err), "unexpected %s (transaction %u) from the server",
			 lun_isns_func_str(ra->func, f, sizeof(f)), ra->xid);
		srv_fail(x, NULL, err);
		return;
	}
	switch (x->step) {
	case ST_REG: got_reg(x, ra); break;
	case ST_SCN_REG: got_scn_reg(x, ra); break;
	case ST_NEXT: got_next(x, ra); break;
	case ST_QRY: got_qry(x, ra); break;
	case ST_DEREG: got_dereg(x, ra); break;
	case ST_NONE: srv_fail(x, NULL, "an answer to no request"); break;
	}
}

/* ------------------------------------------------------------------ */
/* Requests for a query                                                */

static void want_query(struct isrv *x, const char *cause, bool now, uint64_t settle_ns)
{
	uint64_t t = lun_now_ns();
	uint64_t interval =
		isns_d ? (uint64_t)lund_tunable(isns_d, NULL, "discovery-min-interval") * NS : 10 * NS;

	if (x->work & W_QUERY) {
		x->coalesced++; /* the planned query answers this request too */
		return;
	}
	if (x->query_running) {
		x->coalesced++;
		if (!x->query_owed) {
			x->query_owed = true;
			lun_strlcpy(x->owed_cause, cause, sizeof(x->owed_cause));
		}
		return;
	}
	if (x->deferred_ns) {
		x->coalesced++; /* a deferred query will run */
		return;
	}
	if (!now && x->last_query_ns && t - x->last_query_ns < interval) {
		x->limited++;
		x->deferred_ns = x->last_query_ns + interval;
		lun_strlcpy(x->deferred_cause, cause, sizeof(x->deferred_cause));
		return;
	}
	if (settle_ns) {
		x->deferred_ns = t + settle_ns;
		lun_strlcpy(x->deferred_cause, cause, sizeof(x->deferred_cause));
		return;
	}
	lun_strlcpy(x->query_cause, cause, sizeof(x->query_cause));
	x->work |= W_QUERY;
	srv_kick(x);
}

static bool isns_enabled(struct lund *d)
{
	unsigned methods = 0;
	char err[256];

	return lun_store_get_methods(d->store, &methods, err, sizeof(err)) == 0 &&
	       (methods & LUN_DISC_ISNS);
}

void lund_isns_request(struct lund *d, const char *host, uint16_t port, const char *cause,
		       bool new_server)
{
	struct isrv *x;

	isns_d = d;
	if (d->offline || !isns_enabled(d))
		return;
	x = srv_find(host, port);
	if (!x) {
		x = srv_new(host, port);
		if (!x) {
			lund_log(LOG_WARNING, "too many iSNS servers; %s:%u not used", host, port);
			return;
		}
		/* the server's stored answer, until it answers (the label is
		 * the store's name of the source) */
		if (lund_disc_load(d, LUN_DISC_ISNS, x->label, &x->targets, &x->saved) > 0)
			x->have_result = x->from_store = true;
		lun_strlcpy(x->reg_cause, cause, sizeof(x->reg_cause));
		lun_strlcpy(x->query_cause, cause, sizeof(x->query_cause));
		x->work = W_REG | W_QUERY;
		srv_kick(x);
		return;
	}
	if (x->cs == CS_DOWN && x->retry_ns) {
		/* waiting for its backoff: someone asks, so try now */
		if (new_server)
			x->retry_ns = 0;
		lun_strlcpy(x->query_cause, cause, sizeof(x->query_cause));
		srv_kick(x);
		return;
	}
	want_query(x, cause, new_server, 0);
}

void lund_isns_all(struct lund *d, const char *cause)
{
	struct lun_store_addr *v = NULL;
	char err[256];
	int n;

	isns_d = d;
	if (d->offline)
		return;
	if (!isns_enabled(d)) {
		/* the method is off: leave every server (deregistered) */
		for (int i = 0; i < LUND_ISNS_MAX; i++)
			if (srvs[i].used && !srvs[i].closing)
				lund_isns_forget(srvs[i].host, srvs[i].port);
		return;
	}
	n = lun_store_list_isns_servers(d->store, &v, err, sizeof(err));
	for (int i = 0; i < n; i++)
		lund_isns_request(d, v[i].host, v[i].port, cause, false);
	free(v);
}

void lund_isns_forget(const char *host, uint16_t port)
{
	struct isrv *x = srv_find(host, port);
	bool maybe_registered;

	if (!x)
		return;
	/* a DevAttrReg without its answer yet may have been done too */
	maybe_registered = x->registered || (x->cs == CS_WAIT && x->step == ST_REG);
	/* Whatever ran is abandoned; a fresh connection says goodbye. */
	pconn_close(&x->c);
	scn_close_all(x);
	walk_reset(x);
	lunaris_target_list_free(&x->targets);
	x->cs = CS_DOWN;
	x->step = ST_NONE;
	x->work = 0;
	x->retry_ns = 0;
	if (!maybe_registered || !x->eid[0] || (isns_d && isns_d->offline)) {
		srv_free(x);
		return;
	}
	x->closing = true;
	hist("isns %s: leaving: DevDereg %s", x->label, x->eid);
	srv_kick(x);
}

/* ------------------------------------------------------------------ */
/* SCN and ESI from the server                                         */

static void scn_reply(struct isrv *x, struct pconn *c, struct lun_isns_msg *m)
{
	char err[256];

	if (pconn_send(c, m, err, sizeof(err)) < 0) {
		hist("isns %s: SCN connection: %s", x->label, err);
		pconn_close(c);
	}
}

static bool knows_target(const struct isrv *x, const char *name)
{
	for (size_t i = 0; i < x->targets.count; i++)
		if (!strcmp(x->targets.targets[i].name, name))
			return true;
	for (size_t i = 0; i < x->nwalk; i++)
		if (!strcmp(x->walk[i], name))
			return true;
	return false;
}

/* Why an SCN event cannot change our target list, or NULL if it may.
 * isnsd's "target and self only" filter looks at the wrong node's mask, so
 * events about initiators arrive too; an SCN does not say a node's type.
 * A node that is new to us (added, or now sharing a discovery domain) may
 * be a target; an update or removal matters only for a target we list. */
static const char *scn_no_news(const struct isrv *x, const struct lun_isns_scn_event *e)
{
	if (!strcmp(e->name, x->name))
		return "our own node";
	if (e->bitmap & (LUN_ISNS_SCN_OBJECT_ADDED | LUN_ISNS_SCN_DD_MEMBER_ADDED))
		return NULL;
	return knows_target(x, e->name) ? NULL : "not a target we list";
}

static void got_scn(struct isrv *x, struct pconn *c, const struct lun_isns_reasm *ra)
{
	struct lun_isns_scn scn;
	struct lun_isns_msg m;
	char err[300], bits[96], cause[LUN_CAUSE_MAX_D];
	int others = 0;

	if (lun_isns_parse_scn(ra->buf, ra->len, &scn, err, sizeof(err)) < 0) {
		hist("isns %s: SCN refused: %s", x->label, err);
		if (lun_isns_build_scn_rsp(&m, ra->xid, LUN_ISNS_MSG_FORMAT_ERROR, "", err,
					   sizeof(err)) == 0)
			scn_reply(x, c, &m);
		return;
	}
	x->scn_received++;
	if (lun_isns_build_scn_rsp(&m, ra->xid, LUN_ISNS_OK, scn.dest, err, sizeof(err)) == 0)
		scn_reply(x, c, &m);
	cause[0] = '\0';
	for (size_t i = 0; i < scn.nevents; i++) {
		const struct lun_isns_scn_event *e = &scn.ev[i];
		const char *why = scn_no_news(x, e);

		lun_isns_scn_str(e->bitmap, bits, sizeof(bits));
		hist("isns %s: scn %s %s%s%s%s", x->label, bits, e->name, why ? " (" : "",
		     why ? why : "", why ? ": no query)" : "");
		if (why)
			continue;
		if (!cause[0])
			snprintf(cause, sizeof(cause), "scn %s %s", bits, e->name);
		else
			others++;
	}
	if (!cause[0])
		return;
	if (others || scn.more) {
		size_t l = strlen(cause);

		snprintf(cause + l, sizeof(cause) - l, " (and %zu more)", (size_t)others + scn.more);
	}
	want_query(x, cause, false, LUND_ISNS_SCN_SETTLE_MS * MS);
}

static void got_esi(struct isrv *x, struct pconn *c, const struct lun_isns_reasm *ra)
{
	struct lun_isns_esi esi;
	struct lun_isns_msg m;
	char err[300];
	uint32_t st = LUN_ISNS_OK;

	if (lun_isns_parse_esi(ra->buf, ra->len, &esi, err, sizeof(err)) < 0) {
		hist("isns %s: ESI refused: %s", x->label, err);
		st = LUN_ISNS_MSG_FORMAT_ERROR;
	} else {
		x->esi_received++;
	}
	if (lun_isns_build_esi_rsp(&m, ra->xid, st, ra->buf, st ? 0 : ra->len, err, sizeof(err)) ==
	    0)
		scn_reply(x, c, &m);
}

static void scn_message(struct isrv *x, struct pconn *c, const struct lun_isns_reasm *ra)
{
	struct lun_isns_msg m;
	char err[256], f[32];

	if (ra->func == LUN_ISNS_SCN) {
		got_scn(x, c, ra);
	} else if (ra->func == LUN_ISNS_ESI) {
		got_esi(x, c, ra);
	} else if (!(ra->func & LUN_ISNS_RESPONSE)) {
		hist("isns %s: %s from the server is not served", x->label,
		     lun_isns_func_str(ra->func, f, sizeof(f)));
		if (lun_isns_build_status_rsp(&m, ra->func, ra->xid, LUN_ISNS_MSG_NOT_SUPPORTED, err,
					      sizeof(err)) == 0)
			scn_reply(x, c, &m);
	}
}

static void scn_accept(struct isrv *x)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t a[16];
	int fd = accept4(x->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct pconn *slot = NULL;

	if (fd < 0)
		return;
	addr_of(&ss, a);
	/* Only the server may tell us what changed. */
	if (!x->have_peer || memcmp(a, x->peer, 16)) {
		char host[64];
		struct lun_isns_attr at = { 0, 16, a };

		if (lun_isns_attr_addr(&at, host, sizeof(host), NULL, 0))
			lun_strlcpy(host, "?", sizeof(host));
		hist("isns %s: SCN connection from %s refused (not the server)", x->label, host);
		close(fd);
		return;
	}
	for (int k = 0; k < LUND_ISNS_SCN_CONNS && !slot; k++)
		if (x->scn[k].fd < 0)
			slot = &x->scn[k];
	if (!slot) { /* the server let old ones go stale: drop the first */
		pconn_close(&x->scn[0]);
		slot = &x->scn[0];
	}
	pconn_init(slot);
	slot->fd = fd;
}

static void scn_service(struct isrv *x, struct pconn *c, short rev)
{
	char err[300];
	int rc;

	if (rev & POLLOUT && pconn_flush(c, err, sizeof(err)) < 0) {
		pconn_close(c);
		return;
	}
	if (!(rev & (POLLIN | POLLHUP | POLLERR)))
		return;
	while ((rc = pconn_recv(c, err, sizeof(err))) == 1) {
		scn_message(x, c, &c->ra);
		if (c->fd < 0)
			return;
	}
	if (rc < 0) {
		/* isnsd closes an SCN connection when our entity changed
		 * (it makes a new one for the next SCN): not worth a word
		 * unless something was wrong with it. */
		if (strcmp(err, "the server closed the connection"))
			hist("isns %s: SCN connection closed: %s", x->label, err);
		pconn_close(c);
	}
}

/* ------------------------------------------------------------------ */
/* The event loop                                                      */

static void client_service(struct isrv *x, short rev)
{
	char err[300];
	int rc = 0;

	if (x->cs == CS_CONNECTING) {
		int e = 0;
		socklen_t el = sizeof(e);

		if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(x->c.fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e) {
			snprintf(err, sizeof(err), "cannot connect to %.200s: %s", x->label, strerror(e));
			srv_fail(x, NULL, err);
			return;
		}
		x->cs = CS_READY;
		if (!x->closing && x->failures && x->backoff_s)
			hist("isns %s: the server answers again", x->label);
		srv_next_work(x);
		return;
	}
	if (rev & POLLOUT && pconn_flush(&x->c, err, sizeof(err)) < 0) {
		srv_fail(x, NULL, err);
		return;
	}
	if (!(rev & (POLLIN | POLLHUP | POLLERR)))
		return;
	while (x->used && x->c.fd >= 0 && (rc = pconn_recv(&x->c, err, sizeof(err))) == 1)
		got_answer(x, &x->c.ra);
	if (!x->used || x->c.fd < 0 || rc >= 0)
		return;
	if (x->cs == CS_READY && !x->c.in_len && !x->closing) {
		/* Closed while nothing was asked: isnsd's idle timeout, or the
		 * server stopped.  Connect again and renew the registration;
		 * a server that is gone fails that and backs off. */
		pconn_close(&x->c);
		x->cs = CS_DOWN;
		if (!(x->work & W_REG))
			snprintf(x->reg_cause, sizeof(x->reg_cause), "reconnect: %s", err);
		x->work |= W_REG;
		hist("isns %s: %s; connecting again", x->label, err);
		srv_kick(x);
		return;
	}
	srv_fail(x, NULL, err);
}

static void srv_timers(struct isrv *x, uint64_t now)
{
	if ((x->cs == CS_CONNECTING || x->cs == CS_WAIT) && now >= x->deadline_ns) {
		char err[160], f[32];

		if (x->cs == CS_CONNECTING)
			snprintf(err, sizeof(err), "no connection to %s within %d s", x->label,
				 (x->closing ? LUND_ISNS_DEREG_TIMEOUT_MS : LUND_ISNS_IO_TIMEOUT_MS) /
					 1000);
		else
			snprintf(err, sizeof(err), "no answer to %s within %d s",
				 lun_isns_func_str(x->step == ST_REG	     ? LUN_ISNS_DEV_ATTR_REG
						   : x->step == ST_SCN_REG ? LUN_ISNS_SCN_REG
						   : x->step == ST_NEXT	     ? LUN_ISNS_DEV_GET_NEXT
						   : x->step == ST_QRY	     ? LUN_ISNS_DEV_ATTR_QRY
									     : LUN_ISNS_DEV_DEREG,
						   f, sizeof(f)),
				 (x->closing ? LUND_ISNS_DEREG_TIMEOUT_MS : LUND_ISNS_IO_TIMEOUT_MS) /
					 1000);
		srv_fail(x, NULL, err);
		return;
	}
	if (x->closing)
		return;
	if (x->cs == CS_DOWN && x->retry_ns && now >= x->retry_ns) {
		x->retry_ns = 0;
		srv_kick(x);
	}
	if (x->registered && x->refresh_ns && now >= x->refresh_ns && !(x->work & W_REG)) {
		x->refresh_ns = 0;
		snprintf(x->reg_cause, sizeof(x->reg_cause), "registration refresh (period %u s)",
			 x->reg_period);
		x->work |= W_REG;
		srv_kick(x);
	}
	if (x->deferred_ns && now >= x->deferred_ns && !x->query_running && !(x->work & W_QUERY)) {
		x->deferred_ns = 0;
		lun_strlcpy(x->query_cause, x->deferred_cause, sizeof(x->query_cause));
		x->work |= W_QUERY;
		srv_kick(x);
	}
	for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++)
		if (x->scn[k].fd >= 0 && x->scn[k].in_len && now >= x->scn[k].stall_ns) {
			hist("isns %s: SCN connection closed: a PDU stalled for %d s", x->label,
			     LUND_ISNS_IO_TIMEOUT_MS / 1000);
			pconn_close(&x->scn[k]);
		}
}

static void min_timeout(int *timeout_ms, uint64_t when, uint64_t now)
{
	int ms;

	if (!when)
		return;
	ms = when <= now ? 0 : (int)((when - now) / MS + 1);
	if (ms < *timeout_ms)
		*timeout_ms = ms;
}

int lund_isns_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms)
{
	uint64_t now = lun_now_ns();
	int n = 0;

	for (int i = 0; i < LUND_ISNS_MAX; i++) {
		struct isrv *x = &srvs[i];

		if (!x->used)
			continue;
		if (x->cs == CS_CONNECTING || x->cs == CS_WAIT)
			min_timeout(timeout_ms, x->deadline_ns, now);
		if (x->cs == CS_DOWN)
			min_timeout(timeout_ms, x->retry_ns, now);
		if (!x->closing) {
			min_timeout(timeout_ms, x->refresh_ns, now);
			min_timeout(timeout_ms, x->deferred_ns, now);
		}
		if (x->c.fd >= 0 && n < max)
			pfd[n++] = (struct pollfd){
				.fd = x->c.fd,
				.events = (short)(x->cs == CS_CONNECTING || x->c.out_len ? POLLOUT
											 : POLLIN),
			};
		if (x->lfd >= 0 && n < max)
			pfd[n++] = (struct pollfd){ .fd = x->lfd, .events = POLLIN };
		for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++) {
			struct pconn *c = &x->scn[k];

			if (c->fd < 0 || n >= max)
				continue;
			if (c->in_len)
				min_timeout(timeout_ms, c->stall_ns, now);
			pfd[n++] = (struct pollfd){ .fd = c->fd,
						    .events = (short)(POLLIN |
								      (c->out_len ? POLLOUT : 0)) };
		}
	}
	return n;
}

static short revents_of(const struct pollfd *pfd, int n, int fd)
{
	for (int k = 0; k < n; k++)
		if (pfd[k].fd == fd)
			return pfd[k].revents;
	return 0;
}

void lund_isns_service(struct lund *d, const struct pollfd *pfd, int n)
{
	isns_d = d;
	for (int i = 0; i < LUND_ISNS_MAX; i++) {
		struct isrv *x = &srvs[i];
		short rev;

		if (!x->used)
			continue;
		if (x->c.fd >= 0 && (rev = revents_of(pfd, n, x->c.fd)))
			client_service(x, rev);
		if (!x->used)
			continue;
		if (x->lfd >= 0 && revents_of(pfd, n, x->lfd) & POLLIN)
			scn_accept(x);
		for (int k = 0; k < LUND_ISNS_SCN_CONNS; k++)
			if (x->scn[k].fd >= 0 && (rev = revents_of(pfd, n, x->scn[k].fd)))
				scn_service(x, &x->scn[k], rev);
		srv_timers(x, lun_now_ns());
	}
}

/* ------------------------------------------------------------------ */
/* Views                                                               */

json_t *lund_isns_json(const char *host, uint16_t port)
{
	struct isrv *x = srv_find(host, port);
	json_t *o = json_object(), *t = json_array();

	if (x)
		for (size_t i = 0; i < x->targets.count; i++) {
			const struct lunaris_target *tg = &x->targets.targets[i];

			for (size_t j = 0; j < tg->nportals; j++)
				json_array_append_new(
					t, json_pack("{s:s,s:s,s:i,s:i}", "target", tg->name, "address",
						     tg->portals[j].host, "port", tg->portals[j].port,
						     "tpgt", tg->portals[j].tpgt));
		}
	json_object_set_new(o, "targets", t);
	json_object_set_new(o, "registered", json_boolean(x && x->registered));
	json_object_set_new(o, "queries", json_integer(x ? x->queries : 0));
	json_object_set_new(o, "scn_received", json_integer(x ? x->scn_received : 0));
	json_object_set_new(o, "last_error",
			    x && x->last_error[0] ? json_string(x->last_error) : json_null());
	/* the targets are the stored answer of an earlier query: no query of
	 * this daemon has answered yet */
	json_object_set_new(o, "remembered", json_boolean(x && x->from_store));
	if (!x)
		return o;
	if (x->from_store)
		json_object_set_new(o, "remembered_at", json_integer((json_int_t)x->saved.at));
	json_object_set_new(o, "scn_registered", json_boolean(x->scn_registered));
	json_object_set_new(o, "scn_port", json_integer(x->scn_port));
	json_object_set_new(o, "esi_received", json_integer(x->esi_received));
	/* a conversation with the server is going on */
	json_object_set_new(o, "running", json_boolean(x->cs == CS_CONNECTING || x->cs == CS_WAIT));
	/* a query will run: planned, owed or waiting for its interval */
	json_object_set_new(o, "query_pending",
			    json_boolean(x->work & W_QUERY || x->query_owed || x->deferred_ns));
	json_object_set_new(o, "coalesced", json_integer(x->coalesced));
	json_object_set_new(o, "rate_limited", json_integer(x->limited));
	json_object_set_new(o, "failures", json_integer(x->failures));
	return o;
}

void lund_isns_foreach_target(void (*cb)(const char *server, const struct lunaris_target *t,
					 void *arg),
			      void *arg)
{
	for (int i = 0; i < LUND_ISNS_MAX; i++) {
		const struct isrv *x = &srvs[i];

		if (!x->used || x->closing)
			continue;
		for (size_t k = 0; k < x->targets.count; k++)
			cb(x->label, &x->targets.targets[k], arg);
	}
}

void lund_isns_shutdown(void)
{
	uint64_t end = lun_now_ns() + 1000 * MS;
	bool busy = false;

	/* Say goodbye to every server we are registered with, for at most a
	 * second in all: a daemon that stops should not leave a node behind
	 * for a whole registration period. */
	for (int i = 0; i < LUND_ISNS_MAX; i++)
		if (srvs[i].used && !srvs[i].closing)
			lund_isns_forget(srvs[i].host, srvs[i].port);
	do {
		struct pollfd pfd[LUND_ISNS_MAX * (2 + LUND_ISNS_SCN_CONNS)];
		int timeout = 50;
		int n = lund_isns_fill_pollfds(pfd, (int)(sizeof(pfd) / sizeof(pfd[0])), &timeout);

		busy = false;
		for (int i = 0; i < LUND_ISNS_MAX; i++)
			busy |= srvs[i].used;
		if (!busy)
			break;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		lund_isns_service(isns_d, pfd, n);
	} while (lun_now_ns() < end);
	for (int i = 0; i < LUND_ISNS_MAX; i++)
		if (srvs[i].used)
			srv_free(&srvs[i]);
}
