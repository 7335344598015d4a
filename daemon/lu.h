/*
 * lu.h - floor 5: logical units, as MPxIO sees them.
 *
 * Every path (a daemon session and a LUN number on it) whose LUN reports
 * the same VPD 0x83 identifier belongs to one logical unit, named
 * c0t<IDENTIFIER>d0.  I/O submitted to a logical unit goes down one of its
 * paths, chosen by the LU's load-balance policy (mpx/policy.h); a command
 * that fails on a path for a transport reason is re-issued on another
 * online path; with no path online it waits at most no-path-timeout, then
 * fails.  The device cache (store) remembers every LU ever seen, so that a
 * name exists, offline, before its paths come back.
 *
 * Everything here runs on the daemon's event-loop thread: exports (NBD,
 * FUSE) call in from their own handlers in the same loop; callbacks come
 * back from the loop, never from inside the call that submitted.
 */
#ifndef LUNARIS_LU_H
#define LUNARIS_LU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "daemon.h"

struct lund_lu; /* opaque */

enum lund_io_op {
	LUND_IO_READ,
	LUND_IO_WRITE,
	LUND_IO_FLUSH, /* SYNCHRONIZE CACHE of the whole LU */
	LUND_IO_TRIM, /* UNMAP (deallocate) the range */
	LUND_IO_ZERO, /* WRITE SAME with zeroes (UNMAP bit when may_trim) */
};

struct lund_io;
/* err: 0, or a positive errno (EIO, ENXIO, ENOSPC, EINVAL, ETIMEDOUT, ...)
 * with a sentence in io->errmsg. */
typedef void (*lund_io_done)(struct lund_io *io, int err);

/* One request.  The caller owns it and its buffers until done() runs. */
struct lund_io {
	enum lund_io_op op;
	uint64_t offset, length; /* bytes, multiples of the LU's block size */
	const struct iovec *iov; /* READ/WRITE: exactly `length` bytes */
	int iovcnt; /* at most LUNARIS_MAX_IOV */
	bool fua; /* WRITE: force unit access */
	bool may_trim; /* ZERO: unmapping is fine */
	lund_io_done done;
	void *arg;
	char errmsg[192];
	/* private to lu.c */
	struct lund_io *q_next;
	uint64_t deadline_ns;
	int path;
	unsigned tries;
	struct lund_lu *lu;
	uint8_t param[24]; /* TRIM: the UNMAP parameter list */
};

struct lund_lu_info {
	char name[80]; /* c0t<IDENTIFIER>d0 */
	char ident[72]; /* uppercase hex */
	char vendor[9], product[17], revision[5];
	uint64_t size; /* bytes */
	uint32_t block_size;
	uint32_t max_xfer; /* bytes per command the LU takes (0: no limit known) */
	bool online; /* at least one path can serve now */
	unsigned npaths, paths_online;
	unsigned users; /* exports that have it open */
	time_t last_seen_online; /* 0: never (only cached) */
	time_t last_open;
	char last_opener[160]; /* "nbd by pid 42 (qemu-img)" */
};

/* The LU of that name, online or only cached; NULL when unknown. */
struct lund_lu *lund_lu_find(const char *name);
void lund_lu_get_info(const struct lund_lu *lu, struct lund_lu_info *out);
/* Every LU (online and cached), in name order. */
void lund_lu_foreach(void (*cb)(struct lund_lu *lu, void *arg), void *arg);

/* Queue an I/O.  done() runs exactly once, from a later turn of the event
 * loop.  READ and WRITE take at most max_xfer bytes (larger: EINVAL);
 * exports advertise that limit (NBD maximum block size, FUSE max_write). */
void lund_lu_submit(struct lund_lu *lu, struct lund_io *io);

/*
 * Open a name for an export.  An online LU is ready at once; a cached but
 * offline one asks bus configuration for its targets (config_one, cause
 * "<what> by pid N (comm)") and waits at most open-timeout (default 5 s);
 * an unknown name fails with ENOENT (a name that `lunaris cleanup` removed
 * may still be in the kernel's dentry cache of the FUSE mount).
 * done(arg, lu, 0) or done(arg, NULL, ENXIO or ENOENT, msg);
 * runs from the event loop, never inside this call.  A successful open
 * counts as a user until lund_lu_close(): names in use are never removed.
 */
typedef void (*lund_open_done)(void *arg, struct lund_lu *lu, int err, const char *msg);
void lund_lu_open(struct lund *d, const char *name, pid_t pid, const char *what,
		  lund_open_done done, void *arg);
void lund_lu_close(struct lund_lu *lu);

/* ---- administration (luadmin.c): paths, policy, removal */

struct lund_lu_path_info {
	char target[224];
	char host[256];
	uint16_t port;
	int tpgt;
	uint16_t lun;
	const char *state; /* "online", "standby", "offline", "failed" */
	const char *alua; /* "active/optimized", ...: REPORT TARGET PORT GROUPS, or
			   * active/optimized when the target has no ALUA */
	int tpg; /* target port group, -1 when unknown */
	bool preferred; /* the administrator's preferred path, else ALUA PREF */
	uint64_t commands, bytes_read, bytes_written, errors;
	unsigned outstanding;
};
/* The LU's paths into out (at most max); returns how many. */
int lund_lu_paths(const struct lund_lu *lu, struct lund_lu_path_info *out, int max);
const char *lund_lu_policy(const struct lund_lu *lu);
/* policy: "none", "round-robin", "logical-block", "least-queue"; region in
 * blocks for logical-block (0: the default).  -1 for an unknown policy. */
int lund_lu_set_policy(struct lund_lu *lu, const char *policy, uint32_t region_blocks);
/* Failback (policy none: back to the preferred path when it can serve
 * again); on by default.  In memory only: not in the device cache. */
bool lund_lu_failback(const struct lund_lu *lu);
void lund_lu_set_failback(struct lund_lu *lu, bool on);
/* The administrator's preferred path, "TARGET,HOST:PORT", instead of the
 * ALUA PREF bits; "none" (or "") clears it.  It must name one of the LU's
 * paths (-1 with a sentence in err otherwise).  In memory only. */
int lund_lu_set_preferred(struct lund_lu *lu, const char *spec, char *err, size_t errlen);
/* "" when none is set; always terminated. */
void lund_lu_preferred(const struct lund_lu *lu, char *out, size_t cap);
/* Forget an LU that is offline and unused (cleanup); -1 otherwise. */
int lund_lu_remove(struct lund_lu *lu);
/* list lu, modify lu, cleanup (docs/control-protocol.md) */
void lund_lu_handle(struct lund *d, const char *op, const json_t *args,
		    const struct lund_peer *peer, struct lund_reply *rep);

#endif
