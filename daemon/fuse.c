/*
 * fuse.c - the FUSE export: <run-dir>/dsk/<name>, one regular file per
 * logical unit (lu.h), served by the libfuse3 low-level API from lunarisd's
 * single event loop.
 *
 * No FUSE threads: the /dev/fuse descriptor (fuse_session_fd) is in the
 * poll set, made O_NONBLOCK, and each wake-up reads requests with
 * fuse_session_receive_buf until it says -EAGAIN (libfuse 3.14 returns
 * -errno from the read(2) without a message for EAGAIN and EINTR; 0 with the
 * session marked exited on ENODEV, i.e. after an unmount).  Replies are
 * written with writev(2) on the same descriptor; /dev/fuse completes a
 * write at once (the kernel never makes a reply wait), so O_NONBLOCK
 * changes nothing there.  I/O handlers only queue a lund_io and return; the
 * reply goes out from the io's done() callback, so any number of requests
 * are in flight at once (up to FUSE_SLOTS; the kernel's max_background
 * limits its read-ahead and async direct I/O to FUSE_MAX_BG).
 *
 * Request slots: each slot owns one buffer, and a request is read straight
 * into the buffer of a free slot (fuse_session_receive_buf reads into the
 * buf->mem it is given; libfuse 3.14 reads up to its own fixed buffer size,
 * 256 pages + 4 KiB, whatever buf->size says, so slot buffers are sized
 * from the buffer libfuse allocated itself for the first request).  A WRITE's
 * payload therefore already lies in the slot and goes to the LU from there;
 * a READ's data is read into the slot and sent with fuse_reply_buf (one
 * writev, no copy in userspace).  Slot buffers are allocated on first use
 * and kept: no malloc per I/O in this file (libfuse itself callocs a small
 * struct fuse_req per request).  When every slot is busy the descriptor
 * leaves the poll set and the kernel queues.
 *
 * Page cache, not direct_io: the file is opened without FOPEN_DIRECT_IO, so
 * buffered reads come as page-aligned read-ahead (several in flight),
 * shared mmap works (direct_io files refuse it), the loop driver (losetup)
 * and qemu-img see an ordinary file, and O_DIRECT opens still bypass the
 * cache (the kernel's fuse_direct_IO, split into max_write pieces and sent
 * concurrently with FUSE_CAP_ASYNC_DIO).  The write-back cache is off, so
 * every write(2) reaches the LU before it returns (a WRITE per up to
 * max_write bytes) and an error is the writer's, not a later fsync's.  Each
 * open drops cached pages (no keep_cache): another path to the LU (the NBD
 * export, another host) may have changed them.
 *
 * Unaligned I/O: reads read the enclosing blocks and reply with the middle;
 * writes not aligned to the LU's block size (a buffered write of 5 bytes)
 * do read-modify-write of their first and last block, and while one is in
 * flight an overlapping write, trim or zeroing of the same LU waits (and the
 * other way round), so the edge blocks cannot go back in time.  Block sizes above
 * FUSE_EDGE_MAX take aligned I/O only (EINVAL).
 *
 * Mapping: open -> lund_lu_open (an offline cached name asks config_one,
 * cause "open by pid N (comm)", ENXIO after open-timeout); release ->
 * lund_lu_close; read/write -> LUND_IO_READ/WRITE (FUA for O_DSYNC/O_SYNC
 * files); fsync -> LUND_IO_FLUSH; flush (each close(2)) -> LUND_IO_FLUSH
 * when that file wrote since its last flush, read-only opens ask the kernel
 * for no FLUSH at all; fallocate(PUNCH_HOLE|KEEP_SIZE) -> LUND_IO_TRIM,
 * fallocate(ZERO_RANGE[|KEEP_SIZE]) -> LUND_IO_ZERO, both on whole blocks
 * (EINVAL otherwise; EOPNOTSUPP when the LU refuses the command, e.g. UNMAP
 * on a LUN without thin provisioning), other modes EOPNOTSUPP.  O_TRUNC is ignored, as for a
 * block device (FUSE_CAP_ATOMIC_O_TRUNC: the kernel passes it to open
 * instead of sending a truncating SETATTR); truncate(2) to another size is
 * EINVAL, chmod/chown EPERM.
 *
 * Mount: fsname "lunarisd", type fuse.lunaris, default_permissions (files
 * are 0600 and owned by the daemon's uid: the kernel checks), max_read 1 MiB.
 * A dead mount left by a killed daemon (statfs gives ENOTCONN) is detached
 * at start; stop answers what is pending with EIO and detaches the mount.
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "lu.h"
#include "util.h"

#define FUSE_IO_MAX (1u << 20) /* max_read, max_write, max_readahead */
#define FUSE_SLOTS 64 /* requests in service at once */
#define FUSE_MAX_BG 32 /* the kernel's background requests */
#define FUSE_EDGE_MAX 65536u /* largest block size for unaligned I/O */
#define FUSE_BATCH 64 /* requests read per wake-up */
#define FUSE_TTL 1.0 /* attribute and entry cache, seconds */
#define FUSE_ROOT 1
#define FUSE_NAME_MAX 80

/* One open file. */
struct fh {
	struct lund_lu *lu; /* NULL until the open completed */
	fuse_req_t open_req; /* the OPEN waiting for lund_lu_open */
	struct fuse_file_info fi; /* as the OPEN came */
	char name[FUSE_NAME_MAX];
	unsigned refs; /* the open file + slots in flight */
	bool dirty; /* written since its last flush */
	struct fh *prev, *next; /* every fh: pending and open */
};

enum slot_op { SL_READ, SL_WRITE, SL_RMW_HEAD, SL_RMW_TAIL, SL_FLUSH, SL_TRIM, SL_ZERO };

/* One request in service. */
struct slot {
	char *buf; /* slot_cap bytes: the request, then read data or edges */
	bool busy; /* claimed by a handler */
	bool active; /* a write whose lund_io is (or is about to be) in flight */
	bool waiting; /* a write queued behind an overlapping one */
	bool rmw;
	bool fua; /* WRITE: O_DSYNC or O_SYNC file */
	enum slot_op op;
	fuse_req_t req; /* NULL once answered (stop) */
	struct fh *fh;
	uint64_t off, len; /* the request's bytes */
	uint64_t lo, hi; /* the whole blocks moved */
	uint32_t bs;
	const char *data; /* WRITE payload */
	struct iovec iov[3];
	struct lund_io io;
	struct slot *next; /* free list or wait queue */
};

static struct {
	struct lund *d;
	struct fuse_session *se;
	int fd;
	char mnt[4096];
	bool started;
	size_t rx_cap; /* what libfuse reads into: at least its bufsize */
	size_t slot_cap;
	struct slot slots[FUSE_SLOTS];
	struct slot *free_list;
	int nalloc; /* slots with a buffer */
	struct slot *cur; /* the slot whose request is being processed */
	struct slot *wq_head, *wq_tail; /* writes waiting for an overlap */
	struct fh *fhs; /* every fh */
	char (*names)[FUSE_NAME_MAX]; /* inode - 2 -> name, never reused */
	size_t nnames, names_cap;
	time_t t0;
	uid_t uid;
	gid_t gid;
	bool warned_buf;
	uint64_t log_window_ns;
	unsigned log_count, log_dropped;
	char dirbuf[65536];
} fz = { .fd = -1 };

/* ---------------------------------------------------------------- logging */

/* I/O errors can come by the thousand: at most 10 lines per 10 s. */
static void io_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void io_log(const char *fmt, ...)
{
	uint64_t now = lun_now_ns();
	char line[512];
	va_list ap;

	if (now - fz.log_window_ns > 10000000000ull) {
		if (fz.log_dropped)
			lund_log(LOG_WARNING, "fuse: %u more I/O errors not logged",
				 fz.log_dropped);
		fz.log_window_ns = now;
		fz.log_count = 0;
		fz.log_dropped = 0;
	}
	if (fz.log_count++ >= 10) {
		fz.log_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lund_log(LOG_WARNING, "fuse: %s", line);
}

/* libfuse's own messages (fuse_log) into ours; FUSE_LOG_* are syslog's. */
static void fuse_log_cb(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	lund_log((int)level & 7, "libfuse: %s", line);
}

/* ---------------------------------------------------------------- names and inodes */

static fuse_ino_t name_ino(const char *name)
{
	for (size_t i = 0; i < fz.nnames; i++)
		if (strcmp(fz.names[i], name) == 0)
			return (fuse_ino_t)(i + 2);
	if (fz.nnames == fz.names_cap) {
		size_t cap = fz.names_cap ? fz.names_cap * 2 : 32;
		void *p = realloc(fz.names, cap * sizeof(*fz.names));

		if (!p)
			return 0;
		fz.names = p;
		fz.names_cap = cap;
	}
	lun_strlcpy(fz.names[fz.nnames], name, FUSE_NAME_MAX);
	return (fuse_ino_t)(++fz.nnames + 1);
}

static const char *ino_name(fuse_ino_t ino)
{
	if (ino < 2 || ino - 2 >= fz.nnames)
		return NULL;
	return fz.names[ino - 2];
}

static void lu_stat(const struct lund_lu_info *info, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = fz.uid;
	st->st_gid = fz.gid;
	st->st_size = (off_t)info->size;
	st->st_blksize = info->block_size ? info->block_size : 512;
	st->st_blocks = (blkcnt_t)(info->size / 512);
	st->st_atime = st->st_mtime = st->st_ctime = fz.t0;
}

static void root_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fz.uid;
	st->st_gid = fz.gid;
	st->st_atime = st->st_mtime = st->st_ctime = fz.t0;
}

/* ---------------------------------------------------------------- slots */

static bool slot_available(void)
{
	return fz.free_list || fz.nalloc < FUSE_SLOTS;
}

static struct slot *slot_get(void)
{
	struct slot *s = fz.free_list;

	if (s) {
		fz.free_list = s->next;
	} else if (fz.nalloc < FUSE_SLOTS) {
		s = &fz.slots[fz.nalloc];
		s->buf = malloc(fz.slot_cap);
		if (!s->buf) {
			lund_log(LOG_ERR, "fuse: out of memory for a request buffer");
			return NULL;
		}
		fz.nalloc++;
	} else {
		return NULL;
	}
	s->next = NULL;
	s->busy = s->active = s->waiting = s->rmw = s->fua = false;
	s->req = NULL;
	s->fh = NULL;
	return s;
}

static void slot_put(struct slot *s)
{
	s->busy = false;
	s->req = NULL;
	s->fh = NULL;
	s->next = fz.free_list;
	fz.free_list = s;
}

/* ---------------------------------------------------------------- open files */

static struct fh *fh_new(const char *name)
{
	struct fh *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	lun_strlcpy(f->name, name, sizeof(f->name));
	f->refs = 1;
	f->next = fz.fhs;
	if (fz.fhs)
		fz.fhs->prev = f;
	fz.fhs = f;
	return f;
}

static void fh_put(struct fh *f)
{
	if (--f->refs)
		return;
	if (f->lu)
		lund_lu_close(f->lu);
	if (f->prev)
		f->prev->next = f->next;
	else
		fz.fhs = f->next;
	if (f->next)
		f->next->prev = f->prev;
	free(f);
}

/* ---------------------------------------------------------------- completing requests */

static void reply_err(struct slot *s, int err)
{
	if (s->req)
		fuse_reply_err(s->req, err);
	s->req = NULL;
}

static int io_errno(int err)
{
	return err > 0 && err < 1000 ? err : EIO;
}

static void write_pump(void);

/* The slot's work is over: answered or abandoned. */
static void slot_finish(struct slot *s)
{
	struct fh *f = s->fh;
	bool was_active = s->active;

	s->active = false;
	slot_put(s);
	if (f)
		fh_put(f);
	if (was_active)
		write_pump();
}

static const char *op_name(enum slot_op op)
{
	switch (op) {
	case SL_READ: return "read";
	case SL_WRITE: return "write";
	case SL_RMW_HEAD:
	case SL_RMW_TAIL: return "read for read-modify-write";
	case SL_FLUSH: return "flush";
	case SL_TRIM: return "trim";
	case SL_ZERO: return "write zeroes";
	}
	return "?";
}

static void io_done(struct lund_io *io, int err);

static void submit(struct slot *s, enum lund_io_op op, uint64_t offset, uint64_t length,
		   int iovcnt)
{
	struct lund_io *io = &s->io;

	memset(io, 0, sizeof(*io));
	io->op = op;
	io->offset = offset;
	io->length = length;
	io->iov = iovcnt ? s->iov : NULL;
	io->iovcnt = iovcnt;
	io->done = io_done;
	io->arg = s;
	io->fua = op == LUND_IO_WRITE && s->fua;
	lund_lu_submit(s->fh->lu, io);
}

/* Read one edge block of a read-modify-write into the slot's edge area. */
static void rmw_read(struct slot *s, enum slot_op op, uint64_t block)
{
	char *edge = s->buf + fz.rx_cap + (op == SL_RMW_TAIL ? FUSE_EDGE_MAX : 0);

	s->op = op;
	s->iov[0] = (struct iovec){ .iov_base = edge, .iov_len = s->bs };
	submit(s, LUND_IO_READ, block, s->bs, 1);
}

/* Head and tail blocks are in: write lo..hi from edges and the payload. */
static void write_whole(struct slot *s)
{
	uint64_t head = s->off - s->lo, end = s->off + s->len, tail = s->hi - end;
	uint64_t tb = s->hi - s->bs;
	char *ea = s->buf + fz.rx_cap, *eb = ea + FUSE_EDGE_MAX;
	int n = 0;

	if (head)
		s->iov[n++] = (struct iovec){ .iov_base = ea, .iov_len = head };
	s->iov[n++] = (struct iovec){ .iov_base = (void *)s->data, .iov_len = s->len };
	if (tail) {
		char *src = (tb == s->lo && head) ? ea : eb;

		s->iov[n++] = (struct iovec){ .iov_base = src + (end - tb), .iov_len = tail };
	}
	s->op = SL_WRITE;
	submit(s, LUND_IO_WRITE, s->lo, s->hi - s->lo, n);
}

static void write_begin(struct slot *s)
{
	s->active = true;
	if (s->op == SL_TRIM || s->op == SL_ZERO)
		submit(s, s->op == SL_TRIM ? LUND_IO_TRIM : LUND_IO_ZERO, s->lo, s->hi - s->lo, 0);
	else if (!s->rmw)
		write_whole(s);
	else if (s->off != s->lo)
		rmw_read(s, SL_RMW_HEAD, s->lo);
	else
		rmw_read(s, SL_RMW_TAIL, s->hi - s->bs);
}

static void io_done(struct lund_io *io, int err)
{
	struct slot *s = io->arg;

	if (!s->req) { /* the export stopped meanwhile */
		slot_finish(s);
		return;
	}
	if (err) {
		io_log("%s %s of %llu bytes at %llu: %s", s->fh->name, op_name(s->op),
		       (unsigned long long)s->len, (unsigned long long)s->off,
		       io->errmsg[0] ? io->errmsg : strerror(io_errno(err)));
		if (s->op == SL_FLUSH)
			s->fh->dirty = true;
		/* ILLEGAL REQUEST to UNMAP / WRITE SAME: the LU cannot do it */
		if ((s->op == SL_TRIM || s->op == SL_ZERO) && err == EINVAL)
			err = EOPNOTSUPP;
		reply_err(s, io_errno(err));
		slot_finish(s);
		return;
	}
	switch (s->op) {
	case SL_READ:
		fuse_reply_buf(s->req, s->buf + (s->off - s->lo), s->len);
		s->req = NULL;
		break;
	case SL_RMW_HEAD:
		if (s->off + s->len != s->hi && s->hi - s->bs != s->lo) {
			rmw_read(s, SL_RMW_TAIL, s->hi - s->bs);
			return;
		}
		write_whole(s);
		return;
	case SL_RMW_TAIL:
		write_whole(s);
		return;
	case SL_WRITE:
		fuse_reply_write(s->req, s->len);
		s->req = NULL;
		break;
	case SL_FLUSH:
	case SL_TRIM:
	case SL_ZERO:
		reply_err(s, 0);
		break;
	}
	slot_finish(s);
}

/* ---------------------------------------------------------------- write ordering */

static bool overlaps(const struct slot *a, const struct slot *b)
{
	return a->fh->lu == b->fh->lu && a->lo < b->hi && b->lo < a->hi && (a->rmw || b->rmw);
}

/* s may start: no active write overlaps it in a way that matters, and no
 * earlier waiting write does (they keep their order). */
static bool write_may_start(const struct slot *s)
{
	for (int i = 0; i < fz.nalloc; i++) {
		const struct slot *t = &fz.slots[i];

		if (t != s && t->busy && t->active && overlaps(s, t))
			return false;
	}
	for (const struct slot *t = fz.wq_head; t && t != s; t = t->next)
		if (overlaps(s, t))
			return false;
	return true;
}

static void write_pump(void)
{
	struct slot *prev = NULL, *s = fz.wq_head;

	while (s) {
		struct slot *next = s->next;

		if (write_may_start(s)) {
			if (prev)
				prev->next = next;
			else
				fz.wq_head = next;
			if (fz.wq_tail == s)
				fz.wq_tail = prev;
			s->next = NULL;
			s->waiting = false;
			write_begin(s);
		} else {
			prev = s;
		}
		s = next;
	}
}

static void write_start(struct slot *s)
{
	if (!write_may_start(s)) {
		s->waiting = true;
		s->next = NULL;
		if (fz.wq_tail)
			fz.wq_tail->next = s;
		else
			fz.wq_head = s;
		fz.wq_tail = s;
		return;
	}
	write_begin(s);
}

/* ---------------------------------------------------------------- handlers */

/* The slot of the request being processed, claimed for an I/O on f. */
static struct slot *claim(fuse_req_t req, struct fh *f)
{
	struct slot *s = fz.cur;

	if (!s || s->busy || !f || !f->lu) {
		fuse_reply_err(req, EIO);
		return NULL;
	}
	s->busy = true;
	s->req = req;
	s->fh = f;
	f->refs++;
	return s;
}

static struct fh *fi_fh(const struct fuse_file_info *fi)
{
	return fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = FUSE_IO_MAX;
	conn->max_read = FUSE_IO_MAX;
	conn->max_readahead = FUSE_IO_MAX;
	conn->max_background = FUSE_MAX_BG;
	conn->congestion_threshold = FUSE_MAX_BG * 3 / 4;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE);
	conn->want |= conn->capable &
		      (FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO | FUSE_CAP_ATOMIC_O_TRUNC |
		       FUSE_CAP_AUTO_INVAL_DATA);
	lund_log(LOG_INFO, "fuse: kernel FUSE %u.%u, libfuse %d, max_write %u, max_read %u",
		 conn->proto_major, conn->proto_minor, fuse_version(), conn->max_write,
		 conn->max_read);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct lund_lu_info info;
	struct lund_lu *lu;

	if (parent != FUSE_ROOT || !(lu = lund_lu_find(name))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	lund_lu_get_info(lu, &info);
	memset(&e, 0, sizeof(e));
	e.ino = name_ino(info.name);
	if (!e.ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lu_stat(&info, e.ino, &e.attr);
	e.attr_timeout = FUSE_TTL;
	e.entry_timeout = FUSE_TTL;
	fuse_reply_entry(req, &e);
}

static int ino_stat(fuse_ino_t ino, struct stat *st)
{
	struct lund_lu_info info;
	const char *name;
	struct lund_lu *lu;

	if (ino == FUSE_ROOT) {
		root_stat(st);
		return 0;
	}
	name = ino_name(ino);
	if (!name || !(lu = lund_lu_find(name)))
		return ENOENT;
	lund_lu_get_info(lu, &info);
	lu_stat(&info, ino, st);
	return 0;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int err = ino_stat(ino, &st);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, FUSE_TTL);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int err = ino_stat(ino, &st);

	if (!err && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		err = EPERM;
	if (!err && (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size)
		err = ino == FUSE_ROOT ? EISDIR : EINVAL; /* a device's size is its own */
	/* times: accepted and forgotten (touch works) */
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, FUSE_TTL);
}

struct dir_fill {
	fuse_req_t req;
	off_t want, at; /* first entry to add, entry number */
	size_t pos, cap;
	bool full;
};

static void dir_add(struct dir_fill *df, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t n;

	if (df->full || df->at++ < df->want)
		return;
	n = fuse_add_direntry(df->req, fz.dirbuf + df->pos, df->cap - df->pos, name, &st,
			      df->at);
	if (n > df->cap - df->pos) {
		df->full = true;
		return;
	}
	df->pos += n;
}

static void dir_lu(struct lund_lu *lu, void *arg)
{
	struct dir_fill *df = arg;
	struct lund_lu_info info;
	fuse_ino_t ino;

	if (df->full)
		return;
	lund_lu_get_info(lu, &info);
	ino = name_ino(info.name);
	if (ino)
		dir_add(df, info.name, ino, S_IFREG);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dir_fill df = { .req = req, .want = off };

	if (ino != FUSE_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	df.cap = size < sizeof(fz.dirbuf) ? size : sizeof(fz.dirbuf);
	dir_add(&df, ".", FUSE_ROOT, S_IFDIR);
	dir_add(&df, "..", FUSE_ROOT, S_IFDIR);
	lund_lu_foreach(dir_lu, &df);
	fuse_reply_buf(req, fz.dirbuf, df.pos);
}

static void open_done(void *arg, struct lund_lu *lu, int err, const char *msg)
{
	struct fh *f = arg;
	fuse_req_t req = f->open_req;

	f->open_req = NULL;
	if (!req) { /* the export stopped meanwhile */
		if (lu)
			lund_lu_close(lu);
		fh_put(f);
		return;
	}
	if (err || !lu) {
		lund_log(LOG_WARNING, "fuse: open %s: %s", f->name,
			 msg && *msg ? msg : strerror(io_errno(err)));
		if (lu)
			lund_lu_close(lu);
		fuse_reply_err(req, err ? io_errno(err) : ENXIO);
		fh_put(f);
		return;
	}
	f->lu = lu;
	f->fi.fh = (uint64_t)(uintptr_t)f;
	f->fi.direct_io = 0;
	f->fi.keep_cache = 0;
	f->fi.noflush = (f->fi.flags & O_ACCMODE) == O_RDONLY;
	if (fuse_reply_open(req, &f->fi) == -ENOENT)
		fh_put(f); /* the opener was interrupted: no RELEASE will come */
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const char *name = ino_name(ino);
	struct fh *f;

	if (ino == FUSE_ROOT) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (!name) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	f = fh_new(name);
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->open_req = req;
	f->fi = *fi;
	lund_lu_open(fz.d, name, ctx->pid, "open", open_done, f);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);

	if (f)
		fh_put(f);
	fuse_reply_err(req, 0);
}

/* The block-aligned range around off..off+len. */
static void set_range(struct slot *s, uint64_t off, uint64_t len, uint32_t bs)
{
	s->off = off;
	s->len = len;
	s->bs = bs;
	s->lo = off - off % bs;
	s->hi = (off + len + bs - 1) / bs * bs;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);
	struct lund_lu_info info;
	struct slot *s;

	if (!f || !f->lu) {
		fuse_reply_err(req, EBADF);
		return;
	}
	lund_lu_get_info(f->lu, &info);
	if (off < 0 || !info.block_size) {
		fuse_reply_err(req, off < 0 ? EINVAL : EIO);
		return;
	}
	if ((uint64_t)off >= info.size || !size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > info.size - (uint64_t)off)
		size = info.size - (uint64_t)off;
	if (!(s = claim(req, f)))
		return;
	set_range(s, (uint64_t)off, size, info.block_size);
	if (s->hi - s->lo > fz.slot_cap) {
		reply_err(s, EINVAL);
		slot_finish(s);
		return;
	}
	s->op = SL_READ;
	s->iov[0] = (struct iovec){ .iov_base = s->buf, .iov_len = s->hi - s->lo };
	submit(s, LUND_IO_READ, s->lo, s->hi - s->lo, 1);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);
	struct lund_lu_info info;
	struct slot *s;

	if (!f || !f->lu) {
		fuse_reply_err(req, EBADF);
		return;
	}
	lund_lu_get_info(f->lu, &info);
	if (off < 0 || !info.block_size) {
		fuse_reply_err(req, off < 0 ? EINVAL : EIO);
		return;
	}
	if (!size) {
		fuse_reply_write(req, 0);
		return;
	}
	if ((uint64_t)off >= info.size) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	if (size > info.size - (uint64_t)off)
		size = info.size - (uint64_t)off; /* a short write, then ENOSPC */
	if (!(s = claim(req, f)))
		return;
	set_range(s, (uint64_t)off, size, info.block_size);
	s->rmw = s->lo != s->off || s->hi != s->off + s->len;
	s->fua = (fi->flags & O_DSYNC) != 0;
	if (s->rmw && info.block_size > FUSE_EDGE_MAX) {
		reply_err(s, EINVAL);
		slot_finish(s);
		return;
	}
	if ((uintptr_t)buf >= (uintptr_t)s->buf &&
	    (uintptr_t)buf + size <= (uintptr_t)s->buf + fz.rx_cap) {
		s->data = buf; /* in place: read into this slot's buffer */
	} else if (size <= fz.rx_cap) {
		memcpy(s->buf, buf, size); /* not seen with libfuse 3.14 */
		s->data = s->buf;
	} else {
		reply_err(s, EINVAL);
		slot_finish(s);
		return;
	}
	s->op = SL_WRITE;
	f->dirty = true;
	write_start(s);
}

static void flush_start(fuse_req_t req, struct fh *f)
{
	struct slot *s = claim(req, f);

	if (!s)
		return;
	s->op = SL_FLUSH;
	s->off = s->len = 0;
	f->dirty = false;
	submit(s, LUND_IO_FLUSH, 0, 0, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);

	if (!f || !f->lu || !f->dirty) {
		fuse_reply_err(req, 0);
		return;
	}
	flush_start(req, f);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);

	if (!f || !f->lu) {
		fuse_reply_err(req, EBADF);
		return;
	}
	flush_start(req, f);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t length,
			 struct fuse_file_info *fi)
{
	struct fh *f = fi_fh(fi);
	struct lund_lu_info info;
	enum slot_op op;
	uint64_t end;
	struct slot *s;

	if (!f || !f->lu) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
		op = SL_TRIM;
	} else if ((mode & ~FALLOC_FL_KEEP_SIZE) == FALLOC_FL_ZERO_RANGE) {
		op = SL_ZERO;
	} else {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	lund_lu_get_info(f->lu, &info);
	if (off < 0 || length <= 0 || !info.block_size) {
		fuse_reply_err(req, info.block_size ? EINVAL : EIO);
		return;
	}
	if ((uint64_t)off >= info.size) {
		fuse_reply_err(req, 0); /* KEEP_SIZE: nothing beyond the end */
		return;
	}
	end = (uint64_t)off + (uint64_t)length;
	if (end > info.size || end < (uint64_t)off)
		end = info.size;
	if ((uint64_t)off % info.block_size || end % info.block_size) {
		fuse_reply_err(req, EINVAL); /* whole blocks only */
		return;
	}
	if (!(s = claim(req, f)))
		return;
	set_range(s, (uint64_t)off, end - (uint64_t)off, info.block_size);
	s->op = op;
	f->dirty = true;
	write_start(s); /* ordered against read-modify-writes like a write */
}

static const struct fuse_lowlevel_ops fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.fallocate = op_fallocate,
};

/* ---------------------------------------------------------------- mount, unmount */

static int run_fusermount(const char *mnt)
{
	char *argv[] = { "fusermount3", "-u", "-q", "-z", (char *)mnt, NULL };
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A mount whose daemon died answers ENOTCONN to every request it has to
 * send.  stat(2) alone does not tell: the kernel answers it from the root's
 * cached attributes for up to FUSE_TTL after the death; statfs(2) is always
 * a request.  Detach such a mount.  Returns -1 when mnt is unusable
 * (logged). */
static int clear_stale_mount(const char *run_dir, const char *mnt)
{
	struct stat st, rst;
	struct statfs sf;

	for (int tries = 0; tries < 8; tries++) {
		if (stat(mnt, &st) == 0 && statfs(mnt, &sf) == 0)
			break;
		if (errno != ENOTCONN && errno != ECONNABORTED) {
			lund_log(LOG_ERR, "fuse: %s: %s", mnt, strerror(errno));
			return -1;
		}
		if (umount2(mnt, MNT_DETACH) < 0 && run_fusermount(mnt) < 0) {
			lund_log(LOG_ERR, "fuse: cannot unmount the dead FUSE mount on %s: %s", mnt,
				 strerror(errno));
			return -1;
		}
		lund_log(LOG_NOTICE, "fuse: detached a dead FUSE mount on %s (left by a lunarisd "
				     "that did not stop cleanly)", mnt);
	}
	if (stat(mnt, &st) < 0) {
		lund_log(LOG_ERR, "fuse: %s: %s", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		lund_log(LOG_ERR, "fuse: %s is not a directory", mnt);
		return -1;
	}
	if (stat(run_dir, &rst) == 0 && rst.st_dev != st.st_dev) {
		lund_log(LOG_ERR, "fuse: %s is already a mount point (another lunarisd?)", mnt);
		return -1;
	}
	return 0;
}

int lund_fuse_start(struct lund *d)
{
	char opts[256];
	char *argv[] = { "lunarisd", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_buf fb = { .mem = NULL };
	int fd, r;

	if (fz.started)
		return 0;
	fz.d = d;
	fuse_set_log_func(fuse_log_cb);
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		lund_log(LOG_WARNING, "fuse: /dev/fuse: %s; running without the FUSE export",
			 strerror(errno));
		return -1;
	}
	snprintf(fz.mnt, sizeof(fz.mnt), "%s/dsk", d->run_dir);
	if (mkdir(fz.mnt, 0755) < 0 && errno != EEXIST && errno != ENOTCONN) {
		lund_log(LOG_ERR, "fuse: cannot create %s: %s; running without the FUSE export",
			 fz.mnt, strerror(errno));
		return -1;
	}
	if (clear_stale_mount(d->run_dir, fz.mnt) < 0) {
		lund_log(LOG_ERR, "fuse: running without the FUSE export");
		return -1;
	}
	snprintf(opts, sizeof(opts),
		 "fsname=lunarisd,subtype=lunaris,default_permissions,max_read=%u", FUSE_IO_MAX);
	fz.se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), NULL);
	fuse_opt_free_args(&args);
	if (!fz.se) {
		lund_log(LOG_ERR, "fuse: cannot create a FUSE session; running without the FUSE "
				  "export");
		return -1;
	}
	if (fuse_session_mount(fz.se, fz.mnt) != 0) {
		lund_log(LOG_ERR, "fuse: cannot mount %s; running without the FUSE export", fz.mnt);
		fuse_session_destroy(fz.se);
		fz.se = NULL;
		return -1;
	}
	fd = fuse_session_fd(fz.se);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		lund_log(LOG_ERR, "fuse: /dev/fuse: %s", strerror(errno));
		fuse_session_unmount(fz.se);
		fuse_session_destroy(fz.se);
		fz.se = NULL;
		return -1;
	}
	fz.fd = fd;
	fz.uid = getuid();
	fz.gid = getgid();
	fz.t0 = time(NULL);
	/* The kernel queued INIT at mount time.  Let libfuse allocate this
	 * first buffer: its size is what every later read may fill. */
	r = fuse_session_receive_buf(fz.se, &fb);
	if (!fb.mem) {
		lund_log(LOG_ERR, "fuse: no first request buffer");
		lund_fuse_stop();
		return -1;
	}
	fz.rx_cap = malloc_usable_size(fb.mem);
	if (fz.rx_cap < FUSE_IO_MAX + 4096)
		fz.rx_cap = FUSE_IO_MAX + 4096;
	fz.slot_cap = fz.rx_cap + 2 * FUSE_EDGE_MAX;
	fz.started = true;
	if (r > 0)
		fuse_session_process_buf(fz.se, &fb);
	free(fb.mem);
	lund_log(LOG_INFO, "fuse: logical units exported as files in %s", fz.mnt);
	return 0;
}

void lund_fuse_stop(void)
{
	if (!fz.se)
		return;
	/* answer what waits, so that no caller hangs and libfuse frees its
	 * requests; I/O still in flight keeps its slot until done() */
	for (int i = 0; i < fz.nalloc; i++) {
		struct slot *s = &fz.slots[i];

		if (!s->busy)
			continue;
		reply_err(s, EIO);
		s->waiting = false;
	}
	while (fz.wq_head) {
		struct slot *s = fz.wq_head;

		fz.wq_head = s->next;
		slot_finish(s);
	}
	fz.wq_tail = NULL;
	for (struct fh *f = fz.fhs, *next; f; f = next) {
		next = f->next;
		if (f->open_req) {
			fuse_reply_err(f->open_req, ENXIO);
			f->open_req = NULL; /* open_done frees it */
		} else {
			fh_put(f); /* the open file's reference: no RELEASE will come */
		}
	}
	fuse_session_unmount(fz.se); /* closes the fd, umount2(MNT_DETACH) */
	fuse_session_destroy(fz.se);
	fz.se = NULL;
	fz.fd = -1;
	fz.started = false;
	/* busy slots keep their buffers: their io's done() puts them back */
	free(fz.names);
	fz.names = NULL;
	fz.nnames = fz.names_cap = 0;
	lund_log(LOG_INFO, "fuse: unmounted %s", fz.mnt);
}

/* ---------------------------------------------------------------- event loop */

int lund_fuse_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms)
{
	if (!fz.se || max < 1 || !slot_available())
		return 0;
	pfd[0] = (struct pollfd){ .fd = fz.fd, .events = POLLIN };
	return 1;
}

void lund_fuse_service(struct lund *d, const struct pollfd *pfd, int n)
{
	if (!fz.se || n < 1 || pfd[0].fd != fz.fd || !pfd[0].revents)
		return;
	for (int k = 0; k < FUSE_BATCH && fz.se; k++) {
		struct slot *s = slot_get();
		struct fuse_buf fb;
		int r;

		if (!s)
			break;
		fb = (struct fuse_buf){ .mem = s->buf, .size = fz.rx_cap };
		r = fuse_session_receive_buf(fz.se, &fb);
		if (r <= 0) {
			if (fb.mem != s->buf)
				free(fb.mem);
			slot_put(s);
			if (r == -EINTR)
				continue;
			if (r == -EAGAIN)
				break;
			if (r == 0 || fuse_session_exited(fz.se))
				lund_log(LOG_WARNING, "fuse: %s was unmounted from outside; "
						      "the FUSE export stops", fz.mnt);
			else
				lund_log(LOG_ERR, "fuse: reading /dev/fuse: %s; the FUSE "
						  "export stops", strerror(-r));
			lund_fuse_stop();
			break;
		}
		if ((fb.mem != s->buf || (fb.flags & FUSE_BUF_IS_FD)) && !fz.warned_buf) {
			/* not libfuse 3.14's way: still correct (op_write copies
			 * the payload), only not zero-copy */
			lund_log(LOG_WARNING, "fuse: libfuse did not read into the slot's buffer");
			fz.warned_buf = true;
		}
		fz.cur = s;
		fuse_session_process_buf(fz.se, &fb);
		fz.cur = NULL;
		if (fb.mem != s->buf)
			free(fb.mem);
		if (!s->busy)
			slot_put(s);
	}
}
