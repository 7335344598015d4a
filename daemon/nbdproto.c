/*
 * nbdproto.c - floor 5: the NBD protocol, server side, as pure functions
 * (see nbdproto.h for the shape and the rules).
 *
 * Two kinds of bad input are told apart everywhere.  Some leave the byte
 * stream intact and can be answered (an option with a malformed payload, a
 * read past the end): the parsers consume them and say which error to
 * answer with.  Others mean we no longer know where the next message
 * starts, or the protocol forbids an answer (bad magic, an unknown client
 * flag, an NBD_OPT_EXPORT_NAME we cannot honour): the parsers return -1
 * and the connection ends.
 */
#include "nbdproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* Names                                                              */

const char *lund_nbd_opt_str(uint32_t opt)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return "NBD_OPT_EXPORT_NAME";
	case NBD_OPT_ABORT:
		return "NBD_OPT_ABORT";
	case NBD_OPT_LIST:
		return "NBD_OPT_LIST";
	case NBD_OPT_STARTTLS:
		return "NBD_OPT_STARTTLS";
	case NBD_OPT_INFO:
		return "NBD_OPT_INFO";
	case NBD_OPT_GO:
		return "NBD_OPT_GO";
	case NBD_OPT_STRUCTURED_REPLY:
		return "NBD_OPT_STRUCTURED_REPLY";
	case NBD_OPT_LIST_META_CONTEXT:
		return "NBD_OPT_LIST_META_CONTEXT";
	case NBD_OPT_SET_META_CONTEXT:
		return "NBD_OPT_SET_META_CONTEXT";
	case NBD_OPT_EXTENDED_HEADERS:
		return "NBD_OPT_EXTENDED_HEADERS";
	default:
		return "unknown";
	}
}

const char *lund_nbd_cmd_str(uint16_t type)
{
	static const char *const names[] = {
		[NBD_CMD_READ] = "NBD_CMD_READ",
		[NBD_CMD_WRITE] = "NBD_CMD_WRITE",
		[NBD_CMD_DISC] = "NBD_CMD_DISC",
		[NBD_CMD_FLUSH] = "NBD_CMD_FLUSH",
		[NBD_CMD_TRIM] = "NBD_CMD_TRIM",
		[NBD_CMD_CACHE] = "NBD_CMD_CACHE",
		[NBD_CMD_WRITE_ZEROES] = "NBD_CMD_WRITE_ZEROES",
		[NBD_CMD_BLOCK_STATUS] = "NBD_CMD_BLOCK_STATUS",
	};

	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "unknown";
}

const char *lund_nbd_rep_str(uint32_t reply)
{
	switch (reply) {
	case NBD_REP_ACK:
		return "NBD_REP_ACK";
	case NBD_REP_SERVER:
		return "NBD_REP_SERVER";
	case NBD_REP_INFO:
		return "NBD_REP_INFO";
	case NBD_REP_META_CONTEXT:
		return "NBD_REP_META_CONTEXT";
	case NBD_REP_ERR_UNSUP:
		return "NBD_REP_ERR_UNSUP";
	case NBD_REP_ERR_POLICY:
		return "NBD_REP_ERR_POLICY";
	case NBD_REP_ERR_INVALID:
		return "NBD_REP_ERR_INVALID";
	case NBD_REP_ERR_PLATFORM:
		return "NBD_REP_ERR_PLATFORM";
	case NBD_REP_ERR_TLS_REQD:
		return "NBD_REP_ERR_TLS_REQD";
	case NBD_REP_ERR_UNKNOWN:
		return "NBD_REP_ERR_UNKNOWN";
	case NBD_REP_ERR_SHUTDOWN:
		return "NBD_REP_ERR_SHUTDOWN";
	case NBD_REP_ERR_BLOCK_SIZE_REQD:
		return "NBD_REP_ERR_BLOCK_SIZE_REQD";
	case NBD_REP_ERR_TOO_BIG:
		return "NBD_REP_ERR_TOO_BIG";
	default:
		return "unknown";
	}
}

const char *lund_nbd_err_str(uint32_t err)
{
	switch (err) {
	case NBD_SUCCESS:
		return "success";
	case NBD_EPERM:
		return "EPERM";
	case NBD_EIO:
		return "EIO";
	case NBD_ENOMEM:
		return "ENOMEM";
	case NBD_EINVAL:
		return "EINVAL";
	case NBD_ENOSPC:
		return "ENOSPC";
	case NBD_EOVERFLOW:
		return "EOVERFLOW";
	case NBD_ENOTSUP:
		return "ENOTSUP";
	case NBD_ESHUTDOWN:
		return "ESHUTDOWN";
	default:
		return "unknown";
	}
}

/* The protocol fixed its error numbers to Linux's values, but the host's
 * errno need not be Linux's: map by name, never pass errno through. */
uint32_t lund_nbd_errno(int err)
{
	switch (err) {
	case 0:
		return NBD_SUCCESS;
	case EPERM:
	case EACCES:
	case EROFS:
		return NBD_EPERM;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

/* ------------------------------------------------------------------ */
/* Exports                                                            */

static void nbd_block_sizes(const struct lund_nbd_export *e, uint32_t *min, uint32_t *pref,
			    uint32_t *max)
{
	*min = e->min_block ? e->min_block : 1;
	*pref = e->pref_block ? e->pref_block : 4096;
	*max = e->max_payload ? e->max_payload : LUND_NBD_MAX_PAYLOAD;
}

static bool nbd_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int lund_nbd_export_check(const struct lund_nbd_export *e, char *err, size_t errlen)
{
	uint32_t min, pref, max;

	nbd_block_sizes(e, &min, &pref, &max);
	if (!nbd_pow2(min) || min > 65536) {
		lun_seterr(err, errlen,
			   "minimum block size %u is not a power of two between 1 and 65536.", min);
		return -1;
	}
	if (!nbd_pow2(pref) || pref < min) {
		lun_seterr(err, errlen,
			   "preferred block size %u is not a power of two at least the minimum %u.",
			   pref, min);
		return -1;
	}
	if (max < pref || (max % min && max != UINT32_MAX)) {
		lun_seterr(err, errlen,
			   "maximum payload %u is not a multiple of the minimum block size %u at "
			   "least the preferred %u.",
			   max, min, pref);
		return -1;
	}
	/* Aligned requests could never reach a partial last block. */
	if (e->size % min) {
		lun_seterr(err, errlen,
			   "export size %llu is not a multiple of the minimum block size %u.",
			   (unsigned long long)e->size, min);
		return -1;
	}
	return 0;
}

uint16_t lund_nbd_tflags(const struct lund_nbd_export *e, bool structured)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS;

	if (e->read_only)
		f |= NBD_FLAG_READ_ONLY;
	if (e->can_flush)
		f |= NBD_FLAG_SEND_FLUSH;
	if (e->can_fua)
		f |= NBD_FLAG_SEND_FUA;
	if (e->rotational)
		f |= NBD_FLAG_ROTATIONAL;
	/* Trim and zeroing write: not offered on a read-only export, where
	 * they could only fail. */
	if (e->can_trim && !e->read_only)
		f |= NBD_FLAG_SEND_TRIM;
	if (e->can_zero && !e->read_only)
		f |= NBD_FLAG_SEND_WRITE_ZEROES;
	/* Every read is answered with one data chunk, so "don't fragment"
	 * costs nothing; it only exists with structured replies. */
	if (structured)
		f |= NBD_FLAG_SEND_DF;
	if (e->multi_conn)
		f |= NBD_FLAG_CAN_MULTI_CONN;
	if (e->can_cache)
		f |= NBD_FLAG_SEND_CACHE;
	return f;
}

/* ------------------------------------------------------------------ */
/* Handshake                                                          */

size_t lund_nbd_greeting(uint8_t out[NBD_GREETING_LEN], struct lund_nbd_hs *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->server_flags = NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES;
	lun_put_be64(out, NBD_MAGIC);
	lun_put_be64(out + 8, NBD_OPTS_MAGIC);
	lun_put_be16(out + 16, hs->server_flags);
	return NBD_GREETING_LEN;
}

ssize_t lund_nbd_parse_client_flags(const uint8_t *buf, size_t len, struct lund_nbd_hs *hs,
				    char *err, size_t errlen)
{
	uint32_t f;

	if (len < NBD_CLIENT_FLAGS_LEN)
		return 0;
	f = lun_get_be32(buf);
	if (f & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		lun_seterr(err, errlen,
			   "client flags 0x%08x include unknown bits 0x%08x; the protocol requires "
			   "closing the connection.",
			   f, f & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES));
		return -1;
	}
	if ((f & NBD_FLAG_C_NO_ZEROES) && !(hs->server_flags & NBD_FLAG_NO_ZEROES)) {
		lun_seterr(err, errlen,
			   "the client set NO_ZEROES, which the server did not offer; the protocol "
			   "requires closing the connection.");
		return -1;
	}
	hs->fixed = (f & NBD_FLAG_C_FIXED_NEWSTYLE) != 0;
	hs->no_zeroes = (f & NBD_FLAG_C_NO_ZEROES) != 0;
	return NBD_CLIENT_FLAGS_LEN;
}

static void opt_refuse(struct lund_nbd_opt *o, uint32_t reply, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void opt_refuse(struct lund_nbd_opt *o, uint32_t reply, const char *fmt, ...)
{
	va_list ap;

	o->reply = reply;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
}

/* A protocol string: at most NBD_MAX_STRING bytes, no NUL.  Copied into
 * dst (NBD_MAX_STRING + 1 bytes) when dst is not NULL.  Returns 0 or -1. */
static int opt_string(const uint8_t *p, uint32_t n, char *dst)
{
	if (n > NBD_MAX_STRING || memchr(p, '\0', n))
		return -1;
	if (dst) {
		memcpy(dst, p, n);
		dst[n] = '\0';
	}
	return 0;
}

static void opt_info_go(const uint8_t *d, uint32_t dlen, struct lund_nbd_opt *o)
{
	const char *what = lund_nbd_opt_str(o->code);
	uint32_t nl, nreq, i;

	if (dlen < 6) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s needs at least 6 bytes of data (name length and request count), "
			   "not %u.",
			   what, dlen);
		return;
	}
	nl = lun_get_be32(d);
	if (nl > dlen - 6) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: an export name of %u bytes does not fit in %u bytes of option "
			   "data.",
			   what, nl, dlen);
		return;
	}
	nreq = lun_get_be16(d + 4 + nl);
	if ((uint64_t)4 + nl + 2 + 2 * (uint64_t)nreq != dlen) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: option data is %u bytes, but a %u-byte name and %u information "
			   "requests take %llu.",
			   what, dlen, nl, nreq,
			   (unsigned long long)(4 + nl + 2 + 2 * (uint64_t)nreq));
		return;
	}
	if (opt_string(d + 4, nl, o->name) < 0) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: the export name is longer than %u bytes or contains a NUL "
			   "byte.",
			   what, NBD_MAX_STRING);
		return;
	}
	o->name_len = nl;
	/* Unknown information types must be ignored, not refused. */
	for (i = 0; i < nreq; i++) {
		uint16_t t = lun_get_be16(d + 4 + nl + 2 + 2 * i);

		if (t <= NBD_INFO_BLOCK_SIZE)
			o->info |= 1u << t;
	}
}

static void opt_meta_context(const uint8_t *d, uint32_t dlen, const struct lund_nbd_hs *hs,
			     struct lund_nbd_opt *o)
{
	const char *what = lund_nbd_opt_str(o->code);
	uint32_t nl, nq, i, off;

	if (!hs->structured) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s needs structured replies, which were not negotiated first.", what);
		return;
	}
	if (dlen < 8) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s needs at least 8 bytes of data (name length and query count), "
			   "not %u.",
			   what, dlen);
		return;
	}
	nl = lun_get_be32(d);
	if (nl > dlen - 8) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: an export name of %u bytes does not fit in %u bytes of option "
			   "data.",
			   what, nl, dlen);
		return;
	}
	if (opt_string(d + 4, nl, o->name) < 0) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: the export name is longer than %u bytes or contains a NUL "
			   "byte.",
			   what, NBD_MAX_STRING);
		return;
	}
	o->name_len = nl;
	off = 4 + nl;
	nq = lun_get_be32(d + off);
	off += 4;
	/* Each query takes at least its 4-byte length: this bounds the loop
	 * by the data actually there, not by a count the client chose. */
	if (nq > (dlen - off) / 4) {
		opt_refuse(o, NBD_REP_ERR_INVALID,
			   "%s: %u queries cannot fit in the %u bytes left of the option "
			   "data.",
			   what, nq, dlen - off);
		return;
	}
	for (i = 0; i < nq; i++) {
		uint32_t ql;

		if (dlen - off < 4) {
			opt_refuse(o, NBD_REP_ERR_INVALID,
				   "%s: query %u starts past the end of the option data.", what,
				   i + 1);
			return;
		}
		ql = lun_get_be32(d + off);
		off += 4;
		if (ql > dlen - off) {
			opt_refuse(o, NBD_REP_ERR_INVALID,
				   "%s: query %u of %u bytes runs past the end of the option data.",
				   what, i + 1, ql);
			return;
		}
		if (opt_string(d + off, ql, NULL) < 0) {
			opt_refuse(o, NBD_REP_ERR_INVALID,
				   "%s: query %u is longer than %u bytes or contains a NUL byte.",
				   what, i + 1, NBD_MAX_STRING);
			return;
		}
		if (ql == 15 && memcmp(d + off, "base:allocation", 15) == 0)
			o->base_allocation = true;
		off += ql;
	}
	if (off != dlen) {
		opt_refuse(o, NBD_REP_ERR_INVALID, "%s: %u bytes follow the last query.", what,
			   dlen - off);
		return;
	}
	o->nqueries = nq;
}

/* Options that carry no data refuse any. */
static bool opt_no_data(uint32_t dlen, struct lund_nbd_opt *o)
{
	if (dlen == 0)
		return true;
	opt_refuse(o, NBD_REP_ERR_INVALID, "%s carries no data, but %u bytes came with it.",
		   lund_nbd_opt_str(o->code), dlen);
	return false;
}

ssize_t lund_nbd_parse_option(const uint8_t *buf, size_t len, struct lund_nbd_hs *hs,
			      struct lund_nbd_opt *out, size_t *need, char *err, size_t errlen)
{
	const uint8_t *d = buf + NBD_OPT_HDR_LEN;
	uint64_t magic;
	uint32_t code, dlen;

	out->code = out->len = out->skip = out->reply = 0;
	out->why[0] = out->name[0] = '\0';
	out->name_len = out->nqueries = 0;
	out->info = 0;
	out->base_allocation = false;
	if (need)
		*need = NBD_OPT_HDR_LEN;
	if (len < NBD_OPT_HDR_LEN)
		return 0;
	magic = lun_get_be64(buf);
	if (magic != NBD_OPTS_MAGIC) {
		lun_seterr(err, errlen, "option magic 0x%016llx is not IHAVEOPT.",
			   (unsigned long long)magic);
		return -1;
	}
	code = out->code = lun_get_be32(buf + 8);
	dlen = out->len = lun_get_be32(buf + 12);
	/* Without fixed newstyle an unknown option cannot be refused, only
	 * answered by closing: the client did not promise to read replies. */
	if (!hs->fixed && code != NBD_OPT_EXPORT_NAME) {
		lun_seterr(err, errlen,
			   "the client did not ask for fixed newstyle, so %s (%u) can only be "
			   "answered by closing the connection.",
			   lund_nbd_opt_str(code), code);
		return -1;
	}
	if (dlen > LUND_NBD_OPT_DATA_MAX) {
		if (code == NBD_OPT_EXPORT_NAME) {
			lun_seterr(err, errlen,
				   "NBD_OPT_EXPORT_NAME with a %u-byte name, longer than any "
				   "export name may be; this option cannot be refused with a "
				   "reply.",
				   dlen);
			return -1;
		}
		out->skip = dlen;
		opt_refuse(out, NBD_REP_ERR_TOO_BIG,
			   "%s with %u bytes of data is larger than the %u bytes this server "
			   "reads.",
			   lund_nbd_opt_str(code), dlen, LUND_NBD_OPT_DATA_MAX);
		return NBD_OPT_HDR_LEN;
	}
	if (need)
		*need = NBD_OPT_HDR_LEN + (size_t)dlen;
	if (len - NBD_OPT_HDR_LEN < dlen)
		return 0;

	switch (code) {
	case NBD_OPT_EXPORT_NAME:
		if (opt_string(d, dlen, out->name) < 0) {
			lun_seterr(err, errlen,
				   "NBD_OPT_EXPORT_NAME with a name longer than %u bytes or with a "
				   "NUL byte; this option cannot be refused with a reply.",
				   NBD_MAX_STRING);
			return -1;
		}
		out->name_len = dlen;
		break;
	case NBD_OPT_ABORT:
		/* Whatever came with it, the client is leaving: ACK and close. */
		break;
	case NBD_OPT_LIST:
		opt_no_data(dlen, out);
		break;
	case NBD_OPT_STARTTLS:
		if (opt_no_data(dlen, out))
			opt_refuse(out, NBD_REP_ERR_POLICY,
				   "TLS is not offered: lunarisd serves NBD on a local Unix socket "
				   "only.");
		break;
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		opt_info_go(d, dlen, out);
		break;
	case NBD_OPT_STRUCTURED_REPLY:
		if (opt_no_data(dlen, out))
			hs->structured = true;
		break;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		opt_meta_context(d, dlen, hs, out);
		break;
	default:
		opt_refuse(out, NBD_REP_ERR_UNSUP, "option %u (%s) is not supported by lunarisd.",
			   code, lund_nbd_opt_str(code));
		break;
	}
	return NBD_OPT_HDR_LEN + (ssize_t)dlen;
}

/* ---- Option replies ---- */

size_t lund_nbd_opt_reply_hdr(uint8_t out[NBD_OPT_REPLY_HDR_LEN], uint32_t opt, uint32_t reply,
			      uint32_t len)
{
	lun_put_be64(out, NBD_REP_MAGIC);
	lun_put_be32(out + 8, opt);
	lun_put_be32(out + 12, reply);
	lun_put_be32(out + 16, len);
	return NBD_OPT_REPLY_HDR_LEN;
}

size_t lund_nbd_opt_reply(uint8_t *out, size_t cap, uint32_t opt, uint32_t reply,
			  const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;

	if (cap < NBD_OPT_REPLY_HDR_LEN)
		return 0;
	if (n > NBD_MAX_STRING)
		n = NBD_MAX_STRING;
	if (n > cap - NBD_OPT_REPLY_HDR_LEN)
		n = cap - NBD_OPT_REPLY_HDR_LEN;
	lund_nbd_opt_reply_hdr(out, opt, reply, (uint32_t)n);
	if (n)
		memcpy(out + NBD_OPT_REPLY_HDR_LEN, msg, n);
	return NBD_OPT_REPLY_HDR_LEN + n;
}

size_t lund_nbd_rep_server_hdr(uint8_t out[LUND_NBD_REP_SERVER_HDR_LEN], uint32_t name_len,
			       uint32_t desc_len)
{
	lund_nbd_opt_reply_hdr(out, NBD_OPT_LIST, NBD_REP_SERVER, 4 + name_len + desc_len);
	lun_put_be32(out + NBD_OPT_REPLY_HDR_LEN, name_len);
	return LUND_NBD_REP_SERVER_HDR_LEN;
}

size_t lund_nbd_rep_info_export(uint8_t out[LUND_NBD_INFO_EXPORT_LEN], uint32_t opt,
				uint64_t size, uint16_t tflags)
{
	lund_nbd_opt_reply_hdr(out, opt, NBD_REP_INFO, 12);
	lun_put_be16(out + 20, NBD_INFO_EXPORT);
	lun_put_be64(out + 22, size);
	lun_put_be16(out + 30, tflags);
	return LUND_NBD_INFO_EXPORT_LEN;
}

size_t lund_nbd_rep_info_block_size(uint8_t out[LUND_NBD_INFO_BLOCK_SIZE_LEN], uint32_t opt,
				    uint32_t min, uint32_t pref, uint32_t max)
{
	lund_nbd_opt_reply_hdr(out, opt, NBD_REP_INFO, 14);
	lun_put_be16(out + 20, NBD_INFO_BLOCK_SIZE);
	lun_put_be32(out + 22, min);
	lun_put_be32(out + 26, pref);
	lun_put_be32(out + 30, max);
	return LUND_NBD_INFO_BLOCK_SIZE_LEN;
}

size_t lund_nbd_rep_info_string_hdr(uint8_t out[LUND_NBD_INFO_STRING_HDR_LEN], uint32_t opt,
				    uint16_t info, uint32_t len)
{
	lund_nbd_opt_reply_hdr(out, opt, NBD_REP_INFO, 2 + len);
	lun_put_be16(out + 20, info);
	return LUND_NBD_INFO_STRING_HDR_LEN;
}

size_t lund_nbd_info_reply(uint8_t *out, size_t cap, const struct lund_nbd_opt *o,
			   const struct lund_nbd_export *e, uint16_t tflags, const char *name,
			   const char *description)
{
	size_t nl = name ? strlen(name) : 0, dl = description ? strlen(description) : 0;
	bool want_name = (o->info & (1u << NBD_INFO_NAME)) != 0;
	bool want_desc = (o->info & (1u << NBD_INFO_DESCRIPTION)) != 0 && dl > 0;
	uint32_t min, pref, max;
	size_t total, off = 0;

	/* A protocol string longer than NBD_MAX_STRING is not a string the
	 * client may receive: cut it rather than break the reply. */
	if (nl > NBD_MAX_STRING)
		nl = NBD_MAX_STRING;
	if (dl > NBD_MAX_STRING)
		dl = NBD_MAX_STRING;
	total = LUND_NBD_INFO_EXPORT_LEN + LUND_NBD_INFO_BLOCK_SIZE_LEN + NBD_OPT_REPLY_HDR_LEN;
	if (want_name)
		total += LUND_NBD_INFO_STRING_HDR_LEN + nl;
	if (want_desc)
		total += LUND_NBD_INFO_STRING_HDR_LEN + dl;
	if (total > cap)
		return 0;
	off += lund_nbd_rep_info_export(out + off, o->code, e->size, tflags);
	if (want_name) {
		off += lund_nbd_rep_info_string_hdr(out + off, o->code, NBD_INFO_NAME,
						    (uint32_t)nl);
		memcpy(out + off, name ? name : "", nl);
		off += nl;
	}
	if (want_desc) {
		off += lund_nbd_rep_info_string_hdr(out + off, o->code, NBD_INFO_DESCRIPTION,
						    (uint32_t)dl);
		memcpy(out + off, description, dl);
		off += dl;
	}
	nbd_block_sizes(e, &min, &pref, &max);
	off += lund_nbd_rep_info_block_size(out + off, o->code, min, pref, max);
	off += lund_nbd_opt_reply_hdr(out + off, o->code, NBD_REP_ACK, 0);
	return off;
}

size_t lund_nbd_export_name_reply(uint8_t out[NBD_EXPORT_NAME_REPLY_LEN],
				  const struct lund_nbd_hs *hs, uint64_t size, uint16_t tflags)
{
	lun_put_be64(out, size);
	lun_put_be16(out + 8, tflags);
	if (hs->no_zeroes)
		return 10;
	memset(out + 10, 0, NBD_EXPORT_NAME_REPLY_LEN - 10);
	return NBD_EXPORT_NAME_REPLY_LEN;
}

/* ------------------------------------------------------------------ */
/* Transmission                                                       */

static ssize_t req_refuse(struct lund_nbd_req *r, uint32_t error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ssize_t req_refuse(struct lund_nbd_req *r, uint32_t error, const char *fmt, ...)
{
	va_list ap;

	r->error = error;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return NBD_REQUEST_LEN;
}

/* Which flags each command may carry at all; whether the export
 * advertised them is checked separately. */
static uint16_t req_flags_allowed(uint16_t type, uint16_t tflags)
{
	uint16_t ok = 0;

	/* FUA is valid on every command once advertised (clients set it on
	 * more than writes, and the protocol says to accept that). */
	if (tflags & NBD_FLAG_SEND_FUA)
		ok |= NBD_CMD_FLAG_FUA;
	switch (type) {
	case NBD_CMD_READ:
		if (tflags & NBD_FLAG_SEND_DF)
			ok |= NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE_ZEROES:
		ok |= NBD_CMD_FLAG_NO_HOLE;
		if (tflags & NBD_FLAG_SEND_FAST_ZERO)
			ok |= NBD_CMD_FLAG_FAST_ZERO;
		break;
	case NBD_CMD_BLOCK_STATUS:
		ok |= NBD_CMD_FLAG_REQ_ONE;
		break;
	}
	return ok;
}

ssize_t lund_nbd_parse_request(const uint8_t *buf, size_t len, const struct lund_nbd_xport *x,
			       struct lund_nbd_req *out, char *err, size_t errlen)
{
	uint32_t magic, max = x->max_payload ? x->max_payload : LUND_NBD_MAX_PAYLOAD;
	const char *name;
	uint16_t bad;
	bool writes;

	if (len < NBD_REQUEST_LEN)
		return 0;
	magic = lun_get_be32(buf);
	if (magic != NBD_REQUEST_MAGIC) {
		lun_seterr(err, errlen, "request magic 0x%08x is not 0x%08x; the stream is lost.",
			   magic, NBD_REQUEST_MAGIC);
		return -1;
	}
	out->flags = lun_get_be16(buf + 4);
	out->type = lun_get_be16(buf + 6);
	out->handle = lun_get_be64(buf + 8);
	out->offset = lun_get_be64(buf + 16);
	out->length = lun_get_be32(buf + 24);
	/* The payload is on the wire whatever we think of the request. */
	out->payload = out->type == NBD_CMD_WRITE ? out->length : 0;
	out->error = 0;
	out->why[0] = '\0';

	name = lund_nbd_cmd_str(out->type);
	if (out->type > NBD_CMD_BLOCK_STATUS)
		return req_refuse(out, NBD_EINVAL, "unknown command %u.", out->type);
	writes = out->type == NBD_CMD_WRITE || out->type == NBD_CMD_TRIM ||
		 out->type == NBD_CMD_WRITE_ZEROES;
	/* EPERM before "not advertised": on a read-only export trim and zero
	 * are not offered, yet the honest answer is that writing is refused. */
	if (writes && (x->tflags & NBD_FLAG_READ_ONLY))
		return req_refuse(out, NBD_EPERM, "%s on a read-only export.", name);
	bad = out->flags & ~req_flags_allowed(out->type, x->tflags);
	if (bad)
		return req_refuse(out, NBD_EINVAL,
				  "%s with flags 0x%04x, of which 0x%04x are unknown, not valid "
				  "for it, or not advertised.",
				  name, out->flags, bad);
	switch (out->type) {
	case NBD_CMD_DISC:
	case NBD_CMD_FLUSH:
		if (out->type == NBD_CMD_FLUSH && !(x->tflags & NBD_FLAG_SEND_FLUSH))
			return req_refuse(out, NBD_EINVAL, "NBD_CMD_FLUSH was not advertised.");
		if (out->offset || out->length)
			return req_refuse(out, NBD_EINVAL,
					  "%s must have offset and length 0, not %llu and %u.",
					  name, (unsigned long long)out->offset, out->length);
		return NBD_REQUEST_LEN;
	case NBD_CMD_TRIM:
		if (!(x->tflags & NBD_FLAG_SEND_TRIM))
			return req_refuse(out, NBD_EINVAL, "NBD_CMD_TRIM was not advertised.");
		break;
	case NBD_CMD_WRITE_ZEROES:
		if (!(x->tflags & NBD_FLAG_SEND_WRITE_ZEROES))
			return req_refuse(out, NBD_EINVAL,
					  "NBD_CMD_WRITE_ZEROES was not advertised.");
		break;
	case NBD_CMD_CACHE:
		if (!(x->tflags & NBD_FLAG_SEND_CACHE))
			return req_refuse(out, NBD_EINVAL, "NBD_CMD_CACHE was not advertised.");
		break;
	case NBD_CMD_BLOCK_STATUS:
		return req_refuse(out, NBD_EINVAL,
				  "NBD_CMD_BLOCK_STATUS without a negotiated metadata context.");
	}
	if (out->length == 0)
		return req_refuse(out, NBD_EINVAL, "%s of length 0.", name);
	if ((out->type == NBD_CMD_READ || out->type == NBD_CMD_WRITE) && out->length > max)
		return req_refuse(out, NBD_EOVERFLOW,
				  "%s of %u bytes is larger than the %u bytes this server accepts "
				  "in one request.",
				  name, out->length, max);
	if (out->offset > x->size || out->length > x->size - out->offset)
		return req_refuse(out, writes ? NBD_ENOSPC : NBD_EINVAL,
				  "%s of %u bytes at offset %llu goes past the end of the "
				  "%llu-byte export.",
				  name, out->length, (unsigned long long)out->offset,
				  (unsigned long long)x->size);
	if (x->min_block > 1 && (out->offset % x->min_block || out->length % x->min_block))
		return req_refuse(out, NBD_EINVAL,
				  "%s of %u bytes at offset %llu is not aligned to the %u-byte "
				  "minimum block size.",
				  name, out->length, (unsigned long long)out->offset, x->min_block);
	return NBD_REQUEST_LEN;
}

/* ---- Replies ---- */

size_t lund_nbd_simple_reply(uint8_t out[NBD_SIMPLE_REPLY_LEN], uint32_t error,
			     uint64_t handle)
{
	lun_put_be32(out, NBD_SIMPLE_REPLY_MAGIC);
	lun_put_be32(out + 4, error);
	lun_put_be64(out + 8, handle);
	return NBD_SIMPLE_REPLY_LEN;
}

size_t lund_nbd_chunk_hdr(uint8_t out[NBD_CHUNK_HDR_LEN], uint16_t flags, uint16_t type,
			  uint64_t handle, uint32_t length)
{
	lun_put_be32(out, NBD_STRUCTURED_REPLY_MAGIC);
	lun_put_be16(out + 4, flags);
	lun_put_be16(out + 6, type);
	lun_put_be64(out + 8, handle);
	lun_put_be32(out + 16, length);
	return NBD_CHUNK_HDR_LEN;
}

size_t lund_nbd_reply_none(uint8_t out[NBD_CHUNK_HDR_LEN], uint64_t handle)
{
	return lund_nbd_chunk_hdr(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, handle, 0);
}

size_t lund_nbd_reply_offset_data(uint8_t out[NBD_OFFSET_DATA_HDR_LEN], uint64_t handle,
				  uint64_t offset, uint32_t data_len, bool done)
{
	/* The chunk length counts the offset too, and a chunk must carry at
	 * least one byte of data. */
	if (data_len == 0 || data_len > UINT32_MAX - 8)
		return 0;
	lund_nbd_chunk_hdr(out, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_DATA, handle,
			   8 + data_len);
	lun_put_be64(out + NBD_CHUNK_HDR_LEN, offset);
	return NBD_OFFSET_DATA_HDR_LEN;
}

size_t lund_nbd_reply_error(uint8_t *out, size_t cap, uint64_t handle, uint32_t error,
			    const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;

	if (cap < NBD_CHUNK_HDR_LEN + 6)
		return 0;
	if (n > NBD_MAX_STRING)
		n = NBD_MAX_STRING;
	if (n > cap - NBD_CHUNK_HDR_LEN - 6)
		n = cap - NBD_CHUNK_HDR_LEN - 6;
	lund_nbd_chunk_hdr(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, handle,
			   (uint32_t)(6 + n));
	lun_put_be32(out + NBD_CHUNK_HDR_LEN, error ? error : NBD_EIO);
	lun_put_be16(out + NBD_CHUNK_HDR_LEN + 4, (uint16_t)n);
	if (n)
		memcpy(out + NBD_CHUNK_HDR_LEN + 6, msg, n);
	return NBD_CHUNK_HDR_LEN + 6 + n;
}
