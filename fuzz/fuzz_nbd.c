/*
 * fuzz_nbd.c - the NBD server codec over arbitrary client bytes, walked the
 * way the export server's loop walks a connection: the client flags, then
 * options (each answered with the reply builders) until NBD_OPT_GO or
 * NBD_OPT_EXPORT_NAME, then requests, stepping over write payloads, until
 * NBD_CMD_DISC or the end of the input.
 *
 * The first byte shapes the export and the start: bit 0 starts directly in
 * transmission, bit 1 makes the export read-only, bit 2 sets a 512-byte
 * minimum block, bit 3 negotiates structured replies for a direct start,
 * bit 4 lowers the maximum payload to 64 KiB.  The corpus holds real client
 * streams (qemu-img, nbdinfo, nbdcopy) behind a 0x00 byte.
 *
 * Invariants beyond "no crash": consumed counts stay inside the input and
 * match the lengths on the wire; refusals carry a known error and a
 * sentence; an accepted request lies inside the export, respects the
 * maximum payload and the alignment, and uses only advertised commands and
 * flags; every reply builder's output parses back to its own length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbdproto.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static struct lund_nbd_opt opt;
static uint8_t reply[LUND_NBD_INFO_REPLY_MAX];

static bool fz_known_rep_err(uint32_t r)
{
	return r == NBD_REP_ERR_UNSUP || r == NBD_REP_ERR_POLICY || r == NBD_REP_ERR_INVALID ||
	       r == NBD_REP_ERR_TOO_BIG;
}

/* A buffer of option replies must be a whole number of well-formed ones. */
static void fz_walk_replies(const uint8_t *b, size_t n)
{
	size_t off = 0;

	while (off < n) {
		fz_check(n - off >= NBD_OPT_REPLY_HDR_LEN);
		fz_check(lun_get_be64(b + off) == NBD_REP_MAGIC);
		off += NBD_OPT_REPLY_HDR_LEN + lun_get_be32(b + off + 16);
	}
	fz_check(off == n);
}

/* Returns 1 when the handshake moved to transmission, -1 when it ended. */
static int fz_option(const uint8_t *p, size_t n, size_t *used, struct lund_nbd_hs *hs,
		     const struct lund_nbd_export *e)
{
	char err[256] = "";
	size_t need = 0, r;
	ssize_t got = lund_nbd_parse_option(p, n, hs, &opt, &need, err, sizeof(err));

	if (got < 0) {
		fz_check(err[0] != '\0');
		return -1;
	}
	if (got == 0) {
		fz_check(need > n);
		return -1; /* the input ended inside an option */
	}
	fz_check((size_t)got <= n);
	fz_check(need == (size_t)got || opt.skip);
	if (opt.skip) {
		fz_check(got == NBD_OPT_HDR_LEN && opt.skip == opt.len);
		fz_check(opt.reply == NBD_REP_ERR_TOO_BIG);
		/* discard the data the way the server will */
		*used = (size_t)got + (opt.skip < n - (size_t)got ? opt.skip : n - (size_t)got);
	} else {
		fz_check((size_t)got == NBD_OPT_HDR_LEN + (size_t)opt.len);
		*used = (size_t)got;
	}
	fz_check(opt.name_len <= NBD_MAX_STRING && strlen(opt.name) == opt.name_len);
	if (opt.reply) {
		fz_check(fz_known_rep_err(opt.reply) && opt.why[0]);
		r = lund_nbd_opt_reply(reply, sizeof(reply), opt.code, opt.reply, opt.why);
		fz_check(r == NBD_OPT_REPLY_HDR_LEN + strlen(opt.why));
		fz_walk_replies(reply, r);
		return 0;
	}
	switch (opt.code) {
	case NBD_OPT_EXPORT_NAME:
		r = lund_nbd_export_name_reply(reply, hs, e->size,
					       lund_nbd_tflags(e, hs->structured));
		fz_check(r == (hs->no_zeroes ? 10u : NBD_EXPORT_NAME_REPLY_LEN));
		return 1;
	case NBD_OPT_ABORT:
		return -1;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		fz_check(opt.info < 16);
		r = lund_nbd_info_reply(reply, sizeof(reply), &opt, e,
					lund_nbd_tflags(e, hs->structured), opt.name,
					opt.name_len & 1 ? "odd" : "");
		fz_check(r > 0);
		fz_walk_replies(reply, r);
		return opt.code == NBD_OPT_GO ? 1 : 0;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		fz_check(hs->structured);
		break;
	case NBD_OPT_STRUCTURED_REPLY:
		fz_check(hs->structured);
		break;
	}
	r = lund_nbd_opt_reply(reply, sizeof(reply), opt.code, NBD_REP_ACK, NULL);
	fz_check(r == NBD_OPT_REPLY_HDR_LEN);
	return 0;
}

/* Returns the bytes used, 0 at the end of the connection. */
static size_t fz_request(const uint8_t *p, size_t n, const struct lund_nbd_xport *x)
{
	struct lund_nbd_req rq;
	char err[256] = "";
	uint32_t max = x->max_payload ? x->max_payload : LUND_NBD_MAX_PAYLOAD;
	ssize_t got = lund_nbd_parse_request(p, n, x, &rq, err, sizeof(err));
	size_t used, r;

	if (got <= 0) {
		fz_check(got == 0 ? n < NBD_REQUEST_LEN : err[0] != '\0');
		return 0;
	}
	fz_check(got == NBD_REQUEST_LEN);
	fz_check(rq.payload == (rq.type == NBD_CMD_WRITE ? rq.length : 0));
	if (rq.error) {
		fz_check(rq.error == NBD_EINVAL || rq.error == NBD_EPERM ||
			 rq.error == NBD_ENOSPC || rq.error == NBD_EOVERFLOW);
		fz_check(rq.why[0] != '\0');
		if (x->structured) {
			size_t ml = strlen(rq.why) < 38 ? strlen(rq.why) : 38;

			r = lund_nbd_reply_error(reply, 64, rq.handle, rq.error, rq.why);
			fz_check(r == NBD_CHUNK_HDR_LEN + 6 + ml &&
				 lun_get_be32(reply + 16) == 6 + ml);
		} else {
			r = lund_nbd_simple_reply(reply, rq.error, rq.handle);
			fz_check(r == NBD_SIMPLE_REPLY_LEN);
		}
	} else {
		fz_check(rq.type <= NBD_CMD_WRITE_ZEROES);
		fz_check(!(rq.flags &
			   ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_DF)));
		if ((rq.flags & NBD_CMD_FLAG_FUA))
			fz_check(x->tflags & NBD_FLAG_SEND_FUA);
		if ((rq.flags & NBD_CMD_FLAG_DF))
			fz_check(rq.type == NBD_CMD_READ && (x->tflags & NBD_FLAG_SEND_DF));
		if (rq.type == NBD_CMD_WRITE || rq.type == NBD_CMD_TRIM ||
		    rq.type == NBD_CMD_WRITE_ZEROES)
			fz_check(!(x->tflags & NBD_FLAG_READ_ONLY));
		if (rq.type == NBD_CMD_FLUSH || rq.type == NBD_CMD_DISC) {
			fz_check(rq.offset == 0 && rq.length == 0);
		} else {
			fz_check(rq.length > 0 && rq.offset <= x->size &&
				 rq.length <= x->size - rq.offset);
			if (x->min_block > 1)
				fz_check(rq.offset % x->min_block == 0 &&
					 rq.length % x->min_block == 0);
		}
		if (rq.type == NBD_CMD_READ || rq.type == NBD_CMD_WRITE)
			fz_check(rq.length <= max);
		if (rq.type == NBD_CMD_READ && x->structured) {
			r = lund_nbd_reply_offset_data(reply, rq.handle, rq.offset, rq.length,
						       true);
			fz_check(r == NBD_OFFSET_DATA_HDR_LEN &&
				 lun_get_be32(reply + 16) == 8 + rq.length);
		} else if (x->structured) {
			fz_check(lund_nbd_reply_none(reply, rq.handle) == NBD_CHUNK_HDR_LEN);
		} else {
			r = lund_nbd_simple_reply(reply, 0, rq.handle);
			fz_check(r == NBD_SIMPLE_REPLY_LEN);
		}
	}
	if (rq.type == NBD_CMD_DISC)
		return 0;
	used = NBD_REQUEST_LEN;
	/* step over the payload as the server will (into its buffer, or away) */
	used += rq.payload < n - used ? rq.payload : n - used;
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lund_nbd_export e = { .size = 1u << 20, .can_flush = true, .can_fua = true,
				     .can_trim = true, .can_zero = true, .can_cache = true };
	struct lund_nbd_hs hs;
	struct lund_nbd_xport x;
	uint8_t greet[NBD_GREETING_LEN], mode;
	size_t off = 0, used;
	char err[256];
	uint8_t *buf;
	ssize_t got;
	int state = 0;

	if (size == 0)
		return 0;
	mode = data[0];
	e.read_only = (mode & 2) != 0;
	e.min_block = (mode & 4) ? 512 : 1;
	e.max_payload = (mode & 16) ? 65536 : 0;
	fz_check(lund_nbd_export_check(&e, err, sizeof(err)) == 0);
	/* Exact-length heap copy so ASan catches a read one past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	size -= 1;

	lund_nbd_greeting(greet, &hs);
	if (mode & 1) {
		hs.fixed = true;
		hs.structured = (mode & 8) != 0;
		state = 1;
	} else {
		got = lund_nbd_parse_client_flags(buf, size, &hs, err, sizeof(err));
		fz_check(got == 0 || got == 4 || (got == -1 && err[0]));
		if (got <= 0)
			goto out;
		off = 4;
		while (state == 0 && off < size) {
			state = fz_option(buf + off, size - off, &used, &hs, &e);
			if (state < 0)
				goto out;
			fz_check(used > 0 && used <= size - off);
			off += used;
		}
	}
	if (state != 1)
		goto out;
	x = (struct lund_nbd_xport){ .size = e.size, .tflags = lund_nbd_tflags(&e, hs.structured),
				     .structured = hs.structured, .min_block = e.min_block,
				     .max_payload = e.max_payload };
	while (off < size) {
		used = fz_request(buf + off, size - off, &x);
		if (!used)
			break;
		fz_check(used <= size - off);
		off += used;
	}
out:
	free(buf);
	return 0;
}
