/*
 * nbd.c - the NBD export of lunarisd: every logical unit (lu.h) served as
 * an NBD export on <run-dir>/nbd.sock, named by its device name.
 *
 * The protocol itself is daemon/nbdproto.c (pure parsers and header
 * builders); this file owns the sockets and the requests.  Everything runs
 * on the daemon's event-loop thread, like control.c:
 *
 *   - clients are non-blocking; SO_PEERCRED names them ("nbd by pid N
 *     (comm)"), and that is the cause an offline name's config_one records;
 *   - the handshake is fixed newstyle with structured replies; NBD_OPT_LIST
 *     lists every LU, online or only cached; NBD_OPT_INFO of an offline LU
 *     answers from the device cache without logging in (nbdinfo --list asks
 *     it of every name, and a listing must not be a login storm), while
 *     NBD_OPT_GO and NBD_OPT_EXPORT_NAME open the LU with lund_lu_open(),
 *     which runs config_one for an offline name and answers within
 *     open-timeout;
 *   - in transmission each request takes one slot of a per-client pool
 *     allocated when transmission starts (NBD_SLOTS slots, each with a
 *     buffer of the largest request we advertised), becomes a struct
 *     lund_io and is submitted at once; replies go out as they complete,
 *     in any order, gathered into one sendmsg() per turn of the loop.  A
 *     read's data goes out straight from the slot's buffer after its reply
 *     header; a write's payload is read straight into it.  While every slot
 *     is busy the socket is not read, which is the client's flow control.
 *
 * No malloc happens per request.  The pool's buffers are one anonymous
 * mapping: pages are touched only as far as requests reach, and slots are
 * taken lowest first, so a client with few requests in flight touches few.
 *
 * A slot that lu.c holds (its I/O is in flight) is never freed, whatever
 * the client does: a client that goes away early becomes a zombie (socket
 * closed, nothing read or written) until its last I/O has completed, and
 * only then are its pool and its LU released, from the loop, never from
 * inside a completion callback.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "lu.h"
#include "nbdproto.h"
#include "util.h"

#define NBD_MAX_CLIENTS 32
#define NBD_SLOTS 32 /* requests in flight per client */
/* The input buffer holds the largest option we parse; in transmission at
 * most NBD_RX_BATCH bytes are read ahead, so a write's payload is copied
 * out of it only for its first few KiB. */
#define NBD_IN_CAP (NBD_OPT_HDR_LEN + LUND_NBD_OPT_DATA_MAX)
#define NBD_RX_BATCH 8192
/* A client that sends nothing for this long during the handshake is
 * dropped: it holds one of NBD_MAX_CLIENTS places. */
#define NBD_HANDSHAKE_IDLE_NS (60ull * 1000000000ull)
#define NBD_TX_IOV 64 /* iovecs gathered per sendmsg() */

struct nbd_client;

enum slot_state {
	SLOT_FREE,
	SLOT_RX, /* receiving a write's payload */
	SLOT_IO, /* lu.c owns it */
	SLOT_AGAIN, /* a follow-up command is owed (again_op), submitted from the loop */
	SLOT_TX, /* reply queued */
};

struct nbd_slot {
	struct lund_io io;
	struct iovec iov;
	struct nbd_client *c;
	uint8_t *buf; /* NBD_SLOTS slices of the client's pool */
	enum slot_state state;
	unsigned index;
	uint16_t type, flags;
	uint64_t handle, offset;
	uint32_t length;
	bool flush_after; /* FUA on a command lu.c applies it to only through a FLUSH */
	enum lund_io_op again_op;
	bool may_trim; /* WRITE_ZEROES without NO_HOLE */
	bool zero_writes; /* WRITE_ZEROES done as WRITEs of a zeroed buffer */
	uint32_t zero_done; /* ... bytes of it written so far */
	/* the reply: header (with an error message at most) and data_len bytes of buf */
	uint8_t hdr[NBD_CHUNK_HDR_LEN + 6 + sizeof(((struct lund_io *)0)->errmsg)];
	size_t hdr_len;
	uint32_t data_len;
	struct nbd_slot *tx_next;
};

enum client_phase {
	PH_FLAGS, /* greeting sent, waiting for the client's flags */
	PH_OPTIONS, /* option haggling */
	PH_OPENING, /* lund_lu_open() runs for an INFO, GO or EXPORT_NAME */
	PH_XMIT, /* transmission */
};

struct nbd_client {
	bool used;
	int fd; /* -1: a zombie waiting for its I/O, or free */
	enum client_phase phase;
	struct lund_peer peer;
	char who[96]; /* "nbd by pid N (comm)" */
	uint64_t idle_deadline_ns; /* handshake only */
	struct lund_nbd_hs hs;
	uint32_t open_opt; /* the option lund_lu_open() answers */
	unsigned open_info; /* its NBD_INFO_* bits */

	uint8_t *in;
	size_t in_len;
	uint64_t discard; /* bytes still to drop from the input (refused data) */
	uint8_t *out; /* handshake replies */
	size_t out_len, out_off, out_cap;
	bool close_after_out; /* NBD_OPT_ABORT: close once the ACK is out */
	bool finishing; /* NBD_CMD_DISC or end of input: no more requests */
	bool tx_blocked; /* the socket said EAGAIN: wait for POLLOUT */
	bool kick; /* buffered input may be processable now: the sweep looks */
	struct lund_lu *close_lu; /* to lund_lu_close() from the loop, not a callback */

	/* transmission */
	struct lund_lu *lu;
	char name[80];
	struct lund_nbd_xport x;
	struct nbd_slot *slots;
	unsigned nslots;
	uint64_t free_mask;
	uint8_t *pool;
	size_t pool_len;
	unsigned nio; /* slots lu.c holds */
	struct nbd_slot *rx; /* the write whose payload is arriving */
	uint32_t rx_got;
	struct nbd_slot *tx_head, *tx_tail;
	size_t tx_off; /* bytes of tx_head's reply already sent */
	bool again; /* some slot is SLOT_AGAIN */
	/* What this LU refused once (ILLEGAL REQUEST) is not asked again on
	 * this connection: UNMAP (a trim is then answered at once: NBD lets a
	 * server ignore it) and WRITE SAME (zeroes are then written). */
	bool no_unmap, no_write_same;
	uint32_t max_payload; /* each slot's buffer */

	uint64_t n_read, n_write, n_other, n_err, b_read, b_write;
};

static struct nbd_client clients[NBD_MAX_CLIENTS];
static struct nbd_client *poll_map[NBD_MAX_CLIENTS + 1];
static int nbd_listen_fd = -1;
static char nbd_path[108];
static struct lund *nbd_daemon;
/* Options are parsed one at a time: one scratch for all clients (a name
 * takes 4 KiB). */
static struct lund_nbd_opt opt_scratch;

static void client_process(struct nbd_client *c);

/* ------------------------------------------------------------------ */
/* Socket, clients                                                     */

int lund_nbd_open(struct lund *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	nbd_daemon = d;
	for (int i = 0; i < NBD_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	if (snprintf(nbd_path, sizeof(nbd_path), "%s/nbd.sock", d->run_dir) >=
	    (int)sizeof(nbd_path)) {
		lund_log(LOG_ERR, "run directory path too long for a socket: %s", d->run_dir);
		return -1;
	}
	memcpy(sa.sun_path, nbd_path, strlen(nbd_path) + 1);
	/* The control socket is ours already (lund_control_open() refuses to
	 * start next to a running daemon), so a socket file here is stale. */
	unlink(nbd_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(nbd_path, 0660) < 0 || listen(fd, 16) < 0) {
		lund_log(LOG_ERR, "cannot listen on %s: %s", nbd_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (d->control_gid != (gid_t)-1 && chown(nbd_path, 0, d->control_gid) < 0)
		lund_log(LOG_WARNING, "cannot give %s to group %u: %s", nbd_path,
			 (unsigned)d->control_gid, strerror(errno));
	nbd_listen_fd = fd;
	return 0;
}

static void client_log_close(struct nbd_client *c)
{
	if (c->phase != PH_XMIT)
		return;
	lund_log(LOG_INFO,
		 "%s closed %s: %llu reads (%llu bytes), %llu writes (%llu bytes), %llu "
		 "other requests, %llu errors",
		 c->who, c->name, (unsigned long long)c->n_read, (unsigned long long)c->b_read,
		 (unsigned long long)c->n_write, (unsigned long long)c->b_write,
		 (unsigned long long)c->n_other, (unsigned long long)c->n_err);
}

static void slot_free(struct nbd_client *c, struct nbd_slot *s)
{
	s->state = SLOT_FREE;
	c->free_mask |= UINT64_C(1) << s->index;
	if (c->in_len)
		c->kick = true; /* requests may be waiting for this slot */
}

/* Close the socket; what lu.c still holds keeps the rest alive until it
 * comes back (then the sweep releases it). */
static void client_close(struct nbd_client *c)
{
	if (c->fd < 0)
		return;
	client_log_close(c);
	if (c->nio)
		lund_log(LOG_INFO, "%s: gone with %u requests in flight; they finish first",
			 c->who, c->nio);
	close(c->fd);
	c->fd = -1;
	for (struct nbd_slot *s = c->tx_head; s; s = s->tx_next)
		slot_free(c, s);
	c->tx_head = c->tx_tail = NULL;
	if (c->rx) {
		slot_free(c, c->rx);
		c->rx = NULL;
	}
	for (unsigned i = 0; i < c->nslots; i++)
		if (c->slots[i].state == SLOT_AGAIN)
			slot_free(c, &c->slots[i]);
}

/* Free a closed client once nothing of it is in lu.c's hands. */
static void client_release(struct nbd_client *c)
{
	if (c->fd >= 0 || c->nio || c->phase == PH_OPENING)
		return;
	if (c->lu)
		lund_lu_close(c->lu);
	if (c->close_lu)
		lund_lu_close(c->close_lu);
	if (c->pool)
		munmap(c->pool, c->pool_len);
	free(c->slots);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void lund_nbd_close(void)
{
	for (int i = 0; i < NBD_MAX_CLIENTS; i++) {
		if (!clients[i].used)
			continue;
		client_close(&clients[i]);
		/* With I/O still in lu.c the client stays (a zombie) and is
		 * reachable from here; lu.c's shutdown completes it. */
		client_release(&clients[i]);
	}
	if (nbd_listen_fd >= 0) {
		close(nbd_listen_fd);
		unlink(nbd_path);
	}
	nbd_listen_fd = -1;
}

static int out_put(struct nbd_client *c, const void *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		uint8_t *nb;

		while (cap < c->out_len + n)
			cap *= 2;
		nb = realloc(c->out, cap);
		if (!nb)
			return -1;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

static void client_accept(void)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uint8_t greet[NBD_GREETING_LEN];
	struct nbd_client *c = NULL;
	int fd = accept4(nbd_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	/* The socket's mode keeps others out; this is the second lock, as on
	 * the control socket: an export is raw access to the disks. */
	if (cred.uid != 0 &&
	    (nbd_daemon->control_gid == (gid_t)-1 || cred.gid != nbd_daemon->control_gid)) {
		lund_log(LOG_WARNING,
			 "nbd: refusing pid %ld (uid %u): not root nor in the control group",
			 (long)cred.pid, (unsigned)cred.uid);
		close(fd);
		return;
	}
	for (int i = 0; i < NBD_MAX_CLIENTS && !c; i++)
		if (!clients[i].used)
			c = &clients[i];
	if (!c) {
		lund_log(LOG_WARNING, "nbd: too many clients; refusing pid %ld", (long)cred.pid);
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->in = malloc(NBD_IN_CAP);
	if (!c->in) {
		close(fd);
		c->fd = -1;
		return;
	}
	c->used = true;
	c->fd = fd;
	c->peer.pid = cred.pid;
	c->peer.uid = cred.uid;
	c->peer.gid = cred.gid;
	lund_peer_cause(&c->peer, "nbd", c->who, sizeof(c->who));
	c->phase = PH_FLAGS;
	c->idle_deadline_ns = lun_now_ns() + NBD_HANDSHAKE_IDLE_NS;
	lund_nbd_greeting(greet, &c->hs);
	if (out_put(c, greet, sizeof(greet)) < 0)
		client_close(c);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

/* Send the handshake bytes, then as many queued replies as the socket
 * takes, gathered.  A reply's slot is free once its last byte is out. */
static void client_flush(struct nbd_client *c)
{
	while (c->fd >= 0 && c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->tx_blocked = true;
				return;
			}
			client_close(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	if (c->fd >= 0 && c->out_len) {
		c->out_len = c->out_off = 0;
		if (c->close_after_out) {
			client_close(c);
			return;
		}
	}
	while (c->fd >= 0 && c->tx_head) {
		struct iovec v[NBD_TX_IOV];
		struct msghdr mh = { .msg_iov = v };
		size_t off = c->tx_off, want = 0, left;
		int n = 0;
		ssize_t w;

		for (struct nbd_slot *s = c->tx_head; s && n + 2 <= NBD_TX_IOV; s = s->tx_next) {
			if (off < s->hdr_len)
				v[n++] = (struct iovec){ s->hdr + off, s->hdr_len - off };
			if (s->data_len) {
				size_t doff = off > s->hdr_len ? off - s->hdr_len : 0;

				v[n++] = (struct iovec){ s->buf + doff, s->data_len - doff };
			}
			off = 0;
		}
		for (int i = 0; i < n; i++)
			want += v[i].iov_len;
		mh.msg_iovlen = (size_t)n;
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->tx_blocked = true;
				return;
			}
			client_close(c);
			return;
		}
		left = (size_t)w;
		while (c->tx_head) {
			struct nbd_slot *s = c->tx_head;
			size_t rest = s->hdr_len + s->data_len - c->tx_off;

			if (left < rest) {
				c->tx_off += left;
				break;
			}
			left -= rest;
			c->tx_off = 0;
			c->tx_head = s->tx_next;
			if (!c->tx_head)
				c->tx_tail = NULL;
			slot_free(c, s);
		}
		if ((size_t)w < want) {
			/* the socket buffer is full: poll for POLLOUT */
			c->tx_blocked = true;
			return;
		}
	}
	c->tx_blocked = false;
}

/* ------------------------------------------------------------------ */
/* Handshake                                                           */

static void opt_reply(struct nbd_client *c, uint32_t opt, uint32_t reply, const char *msg)
{
	uint8_t buf[NBD_OPT_REPLY_HDR_LEN + 512];
	size_t n = lund_nbd_opt_reply(buf, sizeof(buf), opt, reply, msg);

	if (reply != NBD_REP_ACK)
		lund_log(LOG_INFO, "%s: %s answered %s: %s", c->who, lund_nbd_opt_str(opt),
			 lund_nbd_rep_str(reply), msg ? msg : "");
	if (out_put(c, buf, n) < 0)
		client_close(c);
}

/* "IET     " -> "IET" */
static void trim_right(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
}

static void lu_description(const struct lund_lu_info *li, char *buf, size_t cap)
{
	char vendor[sizeof(li->vendor)], product[sizeof(li->product)];

	lun_strlcpy(vendor, li->vendor, sizeof(vendor));
	lun_strlcpy(product, li->product, sizeof(product));
	trim_right(vendor);
	trim_right(product);
	if (li->online)
		snprintf(buf, cap, "%s %s, %llu bytes, online (%u of %u paths)", vendor, product,
			 (unsigned long long)li->size, li->paths_online, li->npaths);
	else
		snprintf(buf, cap, "%s %s, %llu bytes, offline (in the device cache)", vendor,
			 product, (unsigned long long)li->size);
}

static void list_one(struct lund_lu *lu, void *arg)
{
	struct nbd_client *c = arg;
	struct lund_lu_info li;
	uint8_t hdr[LUND_NBD_REP_SERVER_HDR_LEN];
	char desc[160];
	size_t nl, dl;

	if (c->fd < 0)
		return;
	lund_lu_get_info(lu, &li);
	lu_description(&li, desc, sizeof(desc));
	nl = strlen(li.name);
	dl = strlen(desc);
	lund_nbd_rep_server_hdr(hdr, (uint32_t)nl, (uint32_t)dl);
	if (out_put(c, hdr, sizeof(hdr)) < 0 || out_put(c, li.name, nl) < 0 ||
	    out_put(c, desc, dl) < 0)
		client_close(c);
}

/*
 * What the export advertises for an LU.  Flush, FUA, trim and zeroing
 * writes map to SYNCHRONIZE CACHE, the FUA bit, UNMAP and WRITE SAME.
 * Multi-conn is true: every connection's requests go to the same logical
 * unit through this daemon, a reply is sent only once the target completed
 * the command, and SYNCHRONIZE CACHE flushes the LU's whole cache, whichever
 * connection or path asked for it.
 */
static int lu_export(const struct lund_lu_info *li, struct lund_nbd_export *e, char *err,
		     size_t errlen)
{
	uint32_t max;

	memset(e, 0, sizeof(*e));
	e->size = li->size;
	e->can_flush = e->can_fua = e->can_trim = e->can_zero = true;
	e->multi_conn = true;
	if (!li->block_size) {
		lun_seterr(err, errlen, "the block size of %s is not known yet.", li->name);
		return -1;
	}
	e->min_block = li->block_size;
	e->pref_block = li->block_size > 4096 ? li->block_size : 4096;
	max = li->max_xfer && li->max_xfer < LUND_NBD_MAX_PAYLOAD ? li->max_xfer
								  : LUND_NBD_MAX_PAYLOAD;
	max -= max % li->block_size;
	if (max < li->block_size)
		max = li->block_size;
	/* lu.c takes at most max_xfer per READ or WRITE: never advertise more,
	 * rather prefer less */
	if (max < e->pref_block)
		e->pref_block = li->block_size;
	e->max_payload = max;
	return lund_nbd_export_check(e, err, errlen);
}

static void info_reply(struct nbd_client *c, uint32_t opt, unsigned info,
		       const struct lund_lu_info *li, const struct lund_nbd_export *e)
{
	static uint8_t buf[LUND_NBD_INFO_REPLY_MAX];
	struct lund_nbd_opt o = { .code = opt, .info = info };
	char desc[160];
	size_t n;

	lu_description(li, desc, sizeof(desc));
	n = lund_nbd_info_reply(buf, sizeof(buf), &o, e, lund_nbd_tflags(e, c->hs.structured),
				li->name, desc);
	if (!n || out_put(c, buf, n) < 0)
		client_close(c);
}

static void slot_done(struct lund_io *io, int err);

/* The pool: NBD_SLOTS slots with a buffer of max_payload each; with less
 * memory, fewer slots. */
static int xmit_start(struct nbd_client *c, struct lund_lu *lu, const struct lund_lu_info *li,
		      const struct lund_nbd_export *e)
{
	unsigned n = NBD_SLOTS;
	void *p = MAP_FAILED;

	for (; n >= 1; n /= 2) {
		p = mmap(NULL, (size_t)n * e->max_payload, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			break;
	}
	if (p == MAP_FAILED)
		return -1;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots) {
		munmap(p, (size_t)n * e->max_payload);
		return -1;
	}
	c->pool = p;
	c->pool_len = (size_t)n * e->max_payload;
	c->nslots = n;
	c->free_mask = n == 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
	for (unsigned i = 0; i < n; i++) {
		c->slots[i].c = c;
		c->slots[i].index = i;
		c->slots[i].buf = c->pool + (size_t)i * e->max_payload;
	}
	c->lu = lu;
	c->max_payload = e->max_payload;
	lun_strlcpy(c->name, li->name, sizeof(c->name));
	c->x = (struct lund_nbd_xport){
		.size = e->size,
		.tflags = lund_nbd_tflags(e, c->hs.structured),
		.structured = c->hs.structured,
		.min_block = e->min_block,
		.max_payload = e->max_payload,
	};
	c->phase = PH_XMIT;
	lund_log(LOG_INFO,
		 "%s opened %s: %llu bytes, block size %u, largest request %u bytes, %u "
		 "in flight, %s replies",
		 c->who, c->name, (unsigned long long)e->size, e->min_block, e->max_payload, n,
		 c->hs.structured ? "structured" : "simple");
	return 0;
}

/* lund_lu_open() answered an INFO, GO or EXPORT_NAME. */
static void open_done(void *arg, struct lund_lu *lu, int err, const char *msg)
{
	struct nbd_client *c = arg;
	uint32_t opt = c->open_opt;
	struct lund_lu_info li;
	struct lund_nbd_export e;
	char why[256];

	/* Called from inside lu.c: nothing here calls back into it; closing
	 * an LU and reading further input are left to the sweep. */
	c->phase = PH_OPTIONS;
	c->idle_deadline_ns = lun_now_ns() + NBD_HANDSHAKE_IDLE_NS;
	c->kick = true;
	if (c->fd < 0) { /* gone meanwhile */
		c->close_lu = lu;
		return;
	}
	if (err || !lu) {
		snprintf(why, sizeof(why), "%s", msg && *msg ? msg : strerror(err ? err : ENXIO));
		if (opt == NBD_OPT_EXPORT_NAME) {
			/* cannot be refused with a reply: the protocol's answer is
			 * closing */
			lund_log(LOG_WARNING, "%s: NBD_OPT_EXPORT_NAME failed: %s", c->who,
				 why);
			client_close(c);
		} else {
			opt_reply(c, opt, NBD_REP_ERR_UNKNOWN, why);
		}
		return;
	}
	lund_lu_get_info(lu, &li);
	if (lu_export(&li, &e, why, sizeof(why)) < 0) {
		c->close_lu = lu;
		if (opt == NBD_OPT_EXPORT_NAME) {
			lund_log(LOG_WARNING, "%s: cannot export %s: %s", c->who, li.name,
				 why);
			client_close(c);
		} else {
			opt_reply(c, opt, NBD_REP_ERR_PLATFORM, why);
		}
		return;
	}
	if (opt == NBD_OPT_INFO) {
		info_reply(c, opt, c->open_info, &li, &e);
		c->close_lu = lu;
		return;
	}
	if (xmit_start(c, lu, &li, &e) < 0) {
		c->close_lu = lu;
		if (opt == NBD_OPT_EXPORT_NAME) {
			lund_log(LOG_ERR, "%s: no memory for the request pool", c->who);
			client_close(c);
		} else {
			opt_reply(c, opt, NBD_REP_ERR_UNKNOWN,
				  "lunarisd has no memory for this connection's request buffers.");
		}
		return;
	}
	if (opt == NBD_OPT_EXPORT_NAME) {
		uint8_t buf[NBD_EXPORT_NAME_REPLY_LEN];
		size_t n = lund_nbd_export_name_reply(buf, &c->hs, e.size, c->x.tflags);

		if (out_put(c, buf, n) < 0)
			client_close(c);
	} else {
		info_reply(c, opt, c->open_info, &li, &e);
	}
}

static void opt_info_go(struct nbd_client *c, const struct lund_nbd_opt *o)
{
	struct lund_lu *lu = NULL;
	struct lund_lu_info li;
	struct lund_nbd_export e;
	char why[NBD_MAX_STRING + 128];

	if (o->name_len == 0) {
		if (o->code == NBD_OPT_EXPORT_NAME) {
			lund_log(LOG_WARNING,
				 "%s: NBD_OPT_EXPORT_NAME without a name; closing", c->who);
			client_close(c);
			return;
		}
		opt_reply(c, o->code, NBD_REP_ERR_UNKNOWN,
			  "lunarisd has no default export: name a logical unit (c0t...d0); "
			  "NBD_OPT_LIST lists them.");
		return;
	}
	if (o->name_len < sizeof(c->name))
		lu = lund_lu_find(o->name);
	if (!lu) {
		if (o->code == NBD_OPT_EXPORT_NAME) {
			lund_log(LOG_WARNING,
				 "%s: NBD_OPT_EXPORT_NAME of unknown %.80s; closing", c->who,
				 o->name);
			client_close(c);
			return;
		}
		snprintf(why, sizeof(why), "no logical unit is named %.200s%s.", o->name,
			 o->name_len > 200 ? "..." : "");
		opt_reply(c, o->code, NBD_REP_ERR_UNKNOWN, why);
		return;
	}
	lund_lu_get_info(lu, &li);
	/* INFO is a question, not a use: answer from what is known, also for
	 * an offline name whose size the device cache remembers. */
	if (o->code == NBD_OPT_INFO && (li.online || (li.size && li.block_size))) {
		if (lu_export(&li, &e, why, sizeof(why)) < 0)
			opt_reply(c, o->code, NBD_REP_ERR_PLATFORM, why);
		else
			info_reply(c, o->code, o->info, &li, &e);
		return;
	}
	c->phase = PH_OPENING;
	c->open_opt = o->code;
	c->open_info = o->info;
	lund_lu_open(nbd_daemon, li.name, c->peer.pid, "nbd", open_done, c);
}

static void hs_option(struct nbd_client *c, const struct lund_nbd_opt *o)
{
	if (o->skip)
		c->discard = o->skip;
	if (o->reply) {
		opt_reply(c, o->code, o->reply, o->why);
		return;
	}
	switch (o->code) {
	case NBD_OPT_EXPORT_NAME:
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		opt_info_go(c, o);
		break;
	case NBD_OPT_ABORT:
		opt_reply(c, o->code, NBD_REP_ACK, NULL);
		c->close_after_out = true;
		break;
	case NBD_OPT_LIST:
		lund_lu_foreach(list_one, c);
		if (c->fd >= 0)
			opt_reply(c, o->code, NBD_REP_ACK, NULL);
		break;
	case NBD_OPT_STRUCTURED_REPLY: /* the parser recorded it in hs */
	case NBD_OPT_LIST_META_CONTEXT: /* no metadata contexts: none to list */
	case NBD_OPT_SET_META_CONTEXT:
		opt_reply(c, o->code, NBD_REP_ACK, NULL);
		break;
	default: /* the parser refuses what it does not know */
		opt_reply(c, o->code, NBD_REP_ERR_UNSUP, "unsupported option.");
		break;
	}
}

static void in_consume(struct nbd_client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Drop refused data already received; true when none is left to drop. */
static bool discard_input(struct nbd_client *c)
{
	size_t n = c->discard < c->in_len ? (size_t)c->discard : c->in_len;

	in_consume(c, n);
	c->discard -= n;
	return c->discard == 0;
}

static void hs_process(struct nbd_client *c)
{
	char err[256];

	while (c->fd >= 0 && (c->phase == PH_FLAGS || c->phase == PH_OPTIONS) &&
	       !c->close_after_out) {
		bool flags = c->phase == PH_FLAGS;
		ssize_t r;

		if (c->discard && !discard_input(c))
			return;
		if (flags)
			r = lund_nbd_parse_client_flags(c->in, c->in_len, &c->hs, err, sizeof(err));
		else
			r = lund_nbd_parse_option(c->in, c->in_len, &c->hs, &opt_scratch, NULL, err,
						  sizeof(err));
		if (r < 0) {
			lund_log(LOG_WARNING, "%s: %s Closing.", c->who, err);
			client_close(c);
			return;
		}
		if (r == 0)
			return;
		in_consume(c, (size_t)r);
		c->idle_deadline_ns = lun_now_ns() + NBD_HANDSHAKE_IDLE_NS;
		if (flags)
			c->phase = PH_OPTIONS;
		else
			hs_option(c, &opt_scratch);
	}
}

/* ------------------------------------------------------------------ */
/* Transmission                                                        */

static void slot_queue_reply(struct nbd_client *c, struct nbd_slot *s, uint32_t nerr,
			     const char *msg)
{
	s->data_len = 0;
	if (nerr)
		c->n_err++;
	if (c->x.structured) {
		if (nerr)
			s->hdr_len = lund_nbd_reply_error(s->hdr, sizeof(s->hdr), s->handle, nerr,
							  msg);
		else if (s->type == NBD_CMD_READ)
			s->hdr_len = lund_nbd_reply_offset_data(s->hdr, s->handle, s->offset,
								s->length, true);
		else
			s->hdr_len = lund_nbd_reply_none(s->hdr, s->handle);
	} else {
		s->hdr_len = lund_nbd_simple_reply(s->hdr, nerr, s->handle);
	}
	if (!nerr && s->type == NBD_CMD_READ)
		s->data_len = s->length;
	s->state = SLOT_TX;
	s->tx_next = NULL;
	if (c->tx_tail)
		c->tx_tail->tx_next = s;
	else
		c->tx_head = s;
	c->tx_tail = s;
}

/* One command for slot s: the request itself, or a follow-up (the FLUSH
 * that FUA asks for, a WRITE of zeroes).  The range is the request's, or for
 * zeroes written, the next piece of it. */
static void slot_submit(struct nbd_client *c, struct nbd_slot *s, enum lund_io_op op)
{
	struct lund_io *io = &s->io;

	memset(io, 0, sizeof(*io));
	io->op = op;
	if (op != LUND_IO_FLUSH) {
		io->offset = s->offset;
		io->length = s->length;
	}
	if (op == LUND_IO_WRITE && s->zero_writes) {
		io->offset = s->offset + s->zero_done;
		io->length = s->length - s->zero_done;
		if (io->length > c->max_payload)
			io->length = c->max_payload;
	}
	if (op == LUND_IO_READ || op == LUND_IO_WRITE) {
		s->iov = (struct iovec){ s->buf, (size_t)io->length };
		io->iov = &s->iov;
		io->iovcnt = 1;
	}
	io->fua = op == LUND_IO_WRITE && (s->flags & NBD_CMD_FLAG_FUA);
	io->may_trim = op == LUND_IO_ZERO && s->may_trim;
	io->done = slot_done;
	io->arg = s;
	s->state = SLOT_IO;
	c->nio++;
	lund_lu_submit(c->lu, io);
}

static void slot_again(struct nbd_client *c, struct nbd_slot *s, enum lund_io_op op)
{
	/* submitted from the loop: io is lu.c's until done() has returned */
	s->state = SLOT_AGAIN;
	s->again_op = op;
	c->again = true;
}

/* Zeroes as WRITEs: the slot's buffer, zeroed once, written piece by piece. */
static void zero_by_writes(struct nbd_client *c, struct nbd_slot *s)
{
	s->zero_writes = true;
	s->zero_done = 0;
	memset(s->buf, 0, s->length < c->max_payload ? s->length : c->max_payload);
	slot_again(c, s, LUND_IO_WRITE);
}

/* "Not supported here": what lu.c makes of ILLEGAL REQUEST. */
static bool refused_opcode(int err)
{
	return err == EINVAL || err == EOPNOTSUPP || err == ENOTSUP;
}

static void slot_done(struct lund_io *io, int err)
{
	struct nbd_slot *s = io->arg;
	struct nbd_client *c = s->c;

	c->nio--;
	if (c->fd < 0) {
		slot_free(c, s);
		return; /* the sweep releases the client */
	}
	if (io->op == LUND_IO_TRIM && refused_opcode(err)) {
		/* advisory: an LU without UNMAP has done all it will do */
		if (!c->no_unmap)
			lund_log(LOG_INFO,
				 "%s: %s does not take UNMAP (%s); trims are ignored",
				 c->who, c->name, io->errmsg);
		c->no_unmap = true;
		err = 0;
	}
	if (io->op == LUND_IO_ZERO && refused_opcode(err)) {
		if (s->may_trim) {
			/* WRITE SAME with UNMAP needs thin provisioning: without */
			s->may_trim = false;
			slot_again(c, s, LUND_IO_ZERO);
		} else {
			if (!c->no_write_same)
				lund_log(LOG_INFO,
					 "%s: %s does not take WRITE SAME (%s); zeroes are "
					 "written",
					 c->who, c->name, io->errmsg);
			c->no_write_same = true;
			zero_by_writes(c, s);
		}
		return;
	}
	if (!err && s->zero_writes) {
		s->zero_done += (uint32_t)io->length;
		if (s->zero_done < s->length) {
			slot_again(c, s, LUND_IO_WRITE);
			return;
		}
		s->zero_writes = false;
	}
	if (!err && s->flush_after) {
		s->flush_after = false;
		slot_again(c, s, LUND_IO_FLUSH);
		return;
	}
	if (err)
		lund_log(LOG_DEBUG, "%s: %s of %u bytes at %llu on %s failed: %s", c->who,
			 lund_nbd_cmd_str(s->type), s->length, (unsigned long long)s->offset,
			 c->name, io->errmsg[0] ? io->errmsg : strerror(err));
	slot_queue_reply(c, s, lund_nbd_errno(err),
			 io->errmsg[0] ? io->errmsg : err ? strerror(err) : NULL);
}

static struct nbd_slot *slot_take(struct nbd_client *c)
{
	unsigned i = (unsigned)__builtin_ctzll(c->free_mask); /* lowest first */

	c->free_mask &= ~(UINT64_C(1) << i);
	return &c->slots[i];
}

static void xmit_request(struct nbd_client *c, const struct lund_nbd_req *r)
{
	struct nbd_slot *s;

	if (r->type == NBD_CMD_DISC) {
		/* no reply, ever; what is in flight is finished first */
		c->finishing = true;
		return;
	}
	s = slot_take(c);
	s->type = r->type;
	s->flags = r->flags;
	s->handle = r->handle;
	s->offset = r->offset;
	s->length = r->length;
	s->flush_after = false;
	s->zero_writes = false;
	s->may_trim = false;
	if (r->error) {
		lund_log(LOG_DEBUG, "%s: refused: %s", c->who, r->why);
		c->discard = r->payload;
		slot_queue_reply(c, s, r->error, r->why);
		return;
	}
	switch (r->type) {
	case NBD_CMD_READ:
		c->n_read++;
		c->b_read += r->length;
		slot_submit(c, s, LUND_IO_READ);
		break;
	case NBD_CMD_WRITE:
		c->n_write++;
		c->b_write += r->length;
		s->state = SLOT_RX;
		c->rx = s;
		c->rx_got = 0;
		break;
	case NBD_CMD_FLUSH:
		c->n_other++;
		slot_submit(c, s, LUND_IO_FLUSH);
		break;
	case NBD_CMD_TRIM:
		c->n_other++;
		if (c->no_unmap) {
			slot_queue_reply(c, s, 0, NULL);
			break;
		}
		s->flush_after = (r->flags & NBD_CMD_FLAG_FUA) != 0;
		slot_submit(c, s, LUND_IO_TRIM);
		break;
	case NBD_CMD_WRITE_ZEROES:
		c->n_other++;
		s->flush_after = (r->flags & NBD_CMD_FLAG_FUA) != 0;
		s->may_trim = !(r->flags & NBD_CMD_FLAG_NO_HOLE);
		if (c->no_write_same)
			zero_by_writes(c, s);
		else
			slot_submit(c, s, LUND_IO_ZERO);
		break;
	default: /* not advertised: the parser refused it already */
		slot_queue_reply(c, s, NBD_EINVAL, "unsupported command.");
		break;
	}
}

/* Requests from the input buffer, while slots are free. */
static void xmit_process(struct nbd_client *c)
{
	char err[256];
	struct lund_nbd_req r;

	while (c->fd >= 0 && !c->finishing) {
		ssize_t n;

		if (c->discard && !discard_input(c))
			return;
		if (c->rx) {
			size_t take = c->rx->length - c->rx_got;

			if (take > c->in_len)
				take = c->in_len;
			memcpy(c->rx->buf + c->rx_got, c->in, take);
			in_consume(c, take);
			c->rx_got += (uint32_t)take;
			if (c->rx_got < c->rx->length)
				return;
			slot_submit(c, c->rx, LUND_IO_WRITE);
			c->rx = NULL;
			continue;
		}
		if (!c->free_mask)
			return;
		/* garbage shows in the first 4 bytes: no need to wait for 28 */
		if (c->in_len >= 4 && lun_get_be32(c->in) != NBD_REQUEST_MAGIC) {
			lund_log(LOG_WARNING,
				 "%s: request magic 0x%08x is not 0x%08x; the stream is lost. "
				 "Closing.",
				 c->who, lun_get_be32(c->in), NBD_REQUEST_MAGIC);
			client_close(c);
			return;
		}
		n = lund_nbd_parse_request(c->in, c->in_len, &c->x, &r, err, sizeof(err));
		if (n < 0) {
			lund_log(LOG_WARNING, "%s: %s Closing.", c->who, err);
			client_close(c);
			return;
		}
		if (n == 0)
			return;
		in_consume(c, (size_t)n);
		xmit_request(c, &r);
	}
}

static void client_process(struct nbd_client *c)
{
	if (c->phase == PH_XMIT)
		xmit_process(c);
	else
		hs_process(c);
}

static bool client_wants_input(const struct nbd_client *c)
{
	if (c->fd < 0 || c->close_after_out || c->finishing || c->phase == PH_OPENING)
		return false;
	if (c->phase != PH_XMIT)
		return true;
	return c->rx || c->discard || c->free_mask;
}

static void client_read(struct nbd_client *c)
{
	/* bounded, so that one busy client cannot hold the loop */
	for (int round = 0; round < 16 && client_wants_input(c); round++) {
		size_t room = NBD_IN_CAP - c->in_len;
		ssize_t r;

		/* In transmission read ahead only a little (headers), so that
		 * payloads land in their own buffers; refused data to drop goes
		 * in as large bites as fit. */
		if (c->phase == PH_XMIT && !c->discard && room > NBD_RX_BATCH)
			room = NBD_RX_BATCH;
		if (c->phase == PH_XMIT && c->rx) {
			/* the payload straight into its buffer, and what follows
			 * it (the next headers) into the input buffer */
			struct iovec v[2] = {
				{ c->rx->buf + c->rx_got, c->rx->length - c->rx_got },
				{ c->in + c->in_len, room },
			};
			r = readv(c->fd, v, room ? 2 : 1);
			if (r > 0) {
				size_t p = (size_t)r < v[0].iov_len ? (size_t)r : v[0].iov_len;

				c->rx_got += (uint32_t)p;
				c->in_len += (size_t)r - p;
				if (c->rx_got == c->rx->length) {
					slot_submit(c, c->rx, LUND_IO_WRITE);
					c->rx = NULL;
				}
			}
		} else {
			if (room == 0) /* cannot happen: options fit, requests are consumed */
				return;
			r = read(c->fd, c->in + c->in_len, room);
			if (r > 0)
				c->in_len += (size_t)r;
		}
		if (r == 0) {
			/* End of input.  In transmission, what is in flight is
			 * still answered (the client may only have shut down its
			 * side), as after NBD_CMD_DISC. */
			if (c->phase == PH_XMIT && c->fd >= 0) {
				if (c->rx) {
					slot_free(c, c->rx);
					c->rx = NULL;
				}
				c->finishing = true;
			} else {
				client_close(c);
			}
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				client_close(c);
			return;
		}
		client_process(c);
	}
}

/* ------------------------------------------------------------------ */
/* The event loop                                                      */

int lund_nbd_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms)
{
	uint64_t now = lun_now_ns();
	int n = 0;

	if (max < 1 || nbd_listen_fd < 0)
		return 0;
	poll_map[n] = NULL;
	pfd[n++] = (struct pollfd){ .fd = nbd_listen_fd, .events = POLLIN };
	for (int i = 0; i < NBD_MAX_CLIENTS && n < max; i++) {
		struct nbd_client *c = &clients[i];
		short ev = 0;

		if (!c->used || c->fd < 0)
			continue;
		if (client_wants_input(c))
			ev |= POLLIN;
		if (c->out_len || c->tx_head)
			ev |= POLLOUT;
		if (c->phase == PH_FLAGS || c->phase == PH_OPTIONS) {
			int ms = c->idle_deadline_ns <= now
					 ? 0
					 : (int)((c->idle_deadline_ns - now) / 1000000u + 1);

			if (ms < *timeout_ms)
				*timeout_ms = ms;
		}
		if (c->again || c->kick)
			*timeout_ms = 0;
		poll_map[n] = c;
		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	return n;
}

/* Work that does not wait for the socket: FLUSHes owed to FUA, requests
 * already buffered once slots are free again, replies completed this turn,
 * the end of a finished or abandoned client. */
static void client_sweep(struct nbd_client *c, uint64_t now)
{
	if (c->close_lu) {
		lund_lu_close(c->close_lu);
		c->close_lu = NULL;
	}
	if (c->fd >= 0 && c->again) {
		c->again = false;
		for (unsigned i = 0; i < c->nslots; i++)
			if (c->slots[i].state == SLOT_AGAIN)
				slot_submit(c, &c->slots[i], c->slots[i].again_op);
	}
	if (c->fd >= 0 && !c->tx_blocked && (c->out_len || c->tx_head))
		client_flush(c);
	if (c->kick) {
		/* options pipelined behind one that waited for lund_lu_open(),
		 * or requests that waited for a slot */
		c->kick = false;
		if (c->fd >= 0 && c->phase != PH_OPENING)
			client_process(c);
		if (c->fd >= 0 && !c->tx_blocked && (c->out_len || c->tx_head))
			client_flush(c);
	}
	if (c->fd >= 0 && (c->phase == PH_FLAGS || c->phase == PH_OPTIONS) &&
	    now >= c->idle_deadline_ns) {
		lund_log(LOG_WARNING, "%s: no handshake progress for %llu s; closing", c->who,
			 NBD_HANDSHAKE_IDLE_NS / 1000000000ull);
		client_close(c);
	}
	if (c->fd >= 0 && c->finishing && !c->nio && !c->tx_head && !c->again &&
	    !c->out_len)
		client_close(c);
	if (c->fd < 0)
		client_release(c);
}

void lund_nbd_service(struct lund *d, const struct pollfd *pfd, int n)
{
	(void)d;
	for (int k = 0; k < n; k++) {
		struct nbd_client *c = poll_map[k];
		short rev = pfd[k].revents;

		if (!rev)
			continue;
		if (!c) {
			if (pfd[k].fd == nbd_listen_fd)
				client_accept();
			continue;
		}
		if (c->fd != pfd[k].fd)
			continue; /* closed and reused meanwhile */
		if (rev & POLLNVAL) {
			client_close(c);
			continue;
		}
		if (rev & POLLOUT)
			c->tx_blocked = false;
		if (rev & (POLLERR | POLLHUP) && !(rev & POLLIN)) {
			/* gone in both directions: nothing can be answered */
			client_close(c);
			continue;
		}
		if (rev & POLLIN)
			client_read(c);
	}
	uint64_t now = lun_now_ns();

	for (int i = 0; i < NBD_MAX_CLIENTS; i++)
		if (clients[i].used)
			client_sweep(&clients[i], now);
}
