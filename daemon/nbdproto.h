/*
 * nbdproto.h - floor 5: the NBD protocol as a server speaks it, as pure
 * functions over byte buffers (no sockets, no allocation, no clocks).
 *
 * The export server (issue 6) owns the sockets; this file only knows the
 * wire.  It is shaped for a server that moves data without copies:
 *
 *   - every parser takes the bytes received so far and returns how many it
 *     consumed, 0 when more are needed, or -1 when the stream cannot be
 *     followed any more (the caller then drops the connection: a hard
 *     disconnect, which the protocol allows for exactly these cases);
 *   - a request parser consumes only the 28-byte header: a write's payload
 *     stays on the socket for the caller to read straight into its own
 *     buffers (req.payload says how long it is);
 *   - reply builders write only headers into a small caller buffer; a
 *     read's data goes out as separate iovecs after them (writev).
 *
 * Protocol: the fixed newstyle handshake with NBD_OPT_INFO/GO, structured
 * replies, no TLS, no metadata contexts (base:allocation is not offered),
 * no extended headers.  Constants keep the names of the protocol document
 * (NetworkBlockDevice/nbd doc/proto.md) so that it can be read alongside.
 */
#ifndef LUNARIS_NBDPROTO_H
#define LUNARIS_NBDPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Magic numbers ---- */
#define NBD_MAGIC UINT64_C(0x4e42444d41474943) /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_REP_MAGIC UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC UINT32_C(0x668e33ef)

/* ---- Sizes on the wire ---- */
#define NBD_GREETING_LEN 18 /* NBDMAGIC, IHAVEOPT, 16-bit handshake flags */
#define NBD_CLIENT_FLAGS_LEN 4
#define NBD_OPT_HDR_LEN 16 /* IHAVEOPT, option, data length */
#define NBD_OPT_REPLY_HDR_LEN 20 /* magic, option, reply type, length */
#define NBD_EXPORT_NAME_REPLY_LEN 134 /* size, flags, 124 zeroes */
#define NBD_REQUEST_LEN 28
#define NBD_SIMPLE_REPLY_LEN 16
#define NBD_CHUNK_HDR_LEN 20 /* structured reply chunk header */
#define NBD_OFFSET_DATA_HDR_LEN 28 /* chunk header + 64-bit offset */
#define NBD_MAX_STRING 4096 /* names, descriptions, messages, queries */

/*
 * Option data longer than this is not held: its header is consumed, the
 * caller discards the data and answers NBD_REP_ERR_TOO_BIG.  The largest
 * valid option we know is NBD_OPT_GO with a 4096-byte name and a handful
 * of information requests; 16 KiB also leaves room for a few meta context
 * queries of the maximum length.
 */
#define LUND_NBD_OPT_DATA_MAX 16384

/* Largest READ or WRITE we accept by default: 32 MiB, qemu's limit too, so
 * that a request never pins more than that of buffer. */
#define LUND_NBD_MAX_PAYLOAD (32u << 20)

/* ---- Handshake flags (server) and client flags ---- */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* ---- Transmission flags ---- */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_ROTATIONAL (1u << 4)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_CACHE (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* ---- Options ---- */
enum {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
	NBD_OPT_LIST_META_CONTEXT = 9,
	NBD_OPT_SET_META_CONTEXT = 10,
	NBD_OPT_EXTENDED_HEADERS = 11, /* not supported: answered NBD_REP_ERR_UNSUP */
};

/* ---- Option reply types ---- */
#define NBD_REP_ACK UINT32_C(1)
#define NBD_REP_SERVER UINT32_C(2)
#define NBD_REP_INFO UINT32_C(3)
#define NBD_REP_META_CONTEXT UINT32_C(4)
#define NBD_REP_ERR_UNSUP (UINT32_C(0x80000000) | 1)
#define NBD_REP_ERR_POLICY (UINT32_C(0x80000000) | 2)
#define NBD_REP_ERR_INVALID (UINT32_C(0x80000000) | 3)
#define NBD_REP_ERR_PLATFORM (UINT32_C(0x80000000) | 4)
#define NBD_REP_ERR_TLS_REQD (UINT32_C(0x80000000) | 5)
#define NBD_REP_ERR_UNKNOWN (UINT32_C(0x80000000) | 6)
#define NBD_REP_ERR_SHUTDOWN (UINT32_C(0x80000000) | 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (UINT32_C(0x80000000) | 8)
#define NBD_REP_ERR_TOO_BIG (UINT32_C(0x80000000) | 9)

/* ---- NBD_OPT_INFO / NBD_OPT_GO information types ---- */
enum {
	NBD_INFO_EXPORT = 0,
	NBD_INFO_NAME = 1,
	NBD_INFO_DESCRIPTION = 2,
	NBD_INFO_BLOCK_SIZE = 3,
};

/* ---- Commands and command flags ---- */
enum {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
	NBD_CMD_BLOCK_STATUS = 7,
};
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_DF (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN (1u << 5) /* extended headers only */

/* ---- Structured replies ---- */
#define NBD_REPLY_FLAG_DONE (1u << 0)
enum {
	NBD_REPLY_TYPE_NONE = 0,
	NBD_REPLY_TYPE_OFFSET_DATA = 1,
	NBD_REPLY_TYPE_OFFSET_HOLE = 2,
	NBD_REPLY_TYPE_BLOCK_STATUS = 5,
	NBD_REPLY_TYPE_ERROR = 0x8001,
	NBD_REPLY_TYPE_ERROR_OFFSET = 0x8002,
};

/* ---- Error values (the protocol's own numbers, not the host's errno) ---- */
enum {
	NBD_SUCCESS = 0,
	NBD_EPERM = 1,
	NBD_EIO = 5,
	NBD_ENOMEM = 12,
	NBD_EINVAL = 22,
	NBD_ENOSPC = 28,
	NBD_EOVERFLOW = 75,
	NBD_ENOTSUP = 95,
	NBD_ESHUTDOWN = 108,
};

/* Names for traces and messages: "NBD_OPT_GO", "NBD_CMD_READ",
 * "NBD_REP_ERR_UNSUP", "EINVAL"; "unknown" for other values. */
const char *lund_nbd_opt_str(uint32_t opt);
const char *lund_nbd_cmd_str(uint16_t type);
const char *lund_nbd_rep_str(uint32_t reply);
const char *lund_nbd_err_str(uint32_t err);

/* Map a host errno from the I/O path to the protocol's error values:
 * EDQUOT and EFBIG become ENOSPC, EROFS becomes EPERM, unknown ones EIO. */
uint32_t lund_nbd_errno(int err);

/* ------------------------------------------------------------------ */
/* Exports                                                             */

/* What the server says about one export. */
struct lund_nbd_export {
	uint64_t size; /* bytes */
	bool read_only;
	bool can_flush; /* SYNCHRONIZE CACHE */
	bool can_fua;
	bool can_trim; /* UNMAP */
	bool can_zero; /* WRITE SAME (16) */
	bool can_cache;
	bool multi_conn; /* FLUSH on one connection covers the others */
	bool rotational;
	/* NBD_INFO_BLOCK_SIZE: minimum a power of two in 1..64 KiB, preferred
	 * a power of two >= minimum, maximum payload >= preferred and a
	 * multiple of the minimum.  Zero fields take 1, 4096 and
	 * LUND_NBD_MAX_PAYLOAD. */
	uint32_t min_block, pref_block, max_payload;
};

/* Check the block sizes (after defaults); 0, or -1 with a sentence. */
int lund_nbd_export_check(const struct lund_nbd_export *e, char *err, size_t errlen);

/* Transmission flags for this export on a connection with or without
 * structured replies (NBD_FLAG_SEND_DF needs them). */
uint16_t lund_nbd_tflags(const struct lund_nbd_export *e, bool structured);

/* ------------------------------------------------------------------ */
/* Handshake                                                           */

/* One connection's handshake state. */
struct lund_nbd_hs {
	uint16_t server_flags; /* the handshake flags we sent */
	bool fixed; /* the client set NBD_FLAG_C_FIXED_NEWSTYLE */
	bool no_zeroes; /* ... and NBD_FLAG_C_NO_ZEROES */
	bool structured; /* NBD_OPT_STRUCTURED_REPLY was acknowledged */
};

/* The server's greeting: NBDMAGIC, IHAVEOPT, and the handshake flags
 * FIXED_NEWSTYLE | NO_ZEROES (recorded in hs, which is reset).  Returns
 * NBD_GREETING_LEN. */
size_t lund_nbd_greeting(uint8_t out[NBD_GREETING_LEN], struct lund_nbd_hs *hs);

/* The client's 32-bit flags.  Returns 4, 0 (need more), or -1 when a flag is
 * unknown or was not offered: the protocol then requires a disconnect. */
ssize_t lund_nbd_parse_client_flags(const uint8_t *buf, size_t len, struct lund_nbd_hs *hs,
				    char *err, size_t errlen);

/* One option, parsed and checked.  When `reply` is not 0 the option is
 * refused: answer it with that NBD_REP_ERR_* and `why` as the message, and
 * stay in the handshake.  Strings are copied (the handshake is not a hot
 * path) and NUL-terminated. */
struct lund_nbd_opt {
	uint32_t code; /* NBD_OPT_*, as sent */
	uint32_t len; /* option data length, as sent */
	uint32_t skip; /* data bytes the caller must still discard (too big) */
	uint32_t reply; /* 0, or the NBD_REP_ERR_* to answer with */
	char why[160]; /* the refusal as a sentence */
	/* EXPORT_NAME, INFO, GO, LIST_META_CONTEXT, SET_META_CONTEXT */
	char name[NBD_MAX_STRING + 1];
	uint32_t name_len;
	/* INFO, GO: bit (1 << NBD_INFO_x) for each known type asked for;
	 * unknown types are ignored as the protocol requires */
	unsigned info;
	/* LIST_META_CONTEXT, SET_META_CONTEXT */
	uint32_t nqueries;
	bool base_allocation; /* asked for base:allocation (we offer none) */
};

/*
 * Parse one option from buf.  Returns the bytes consumed (the header and
 * the data, or only the header when the data is too big: then skip is set
 * and reply is NBD_REP_ERR_TOO_BIG), 0 when more bytes are needed (*need,
 * when not NULL, is the total this option takes), or -1 with a sentence in
 * err when the connection must end: bad magic, an option other than
 * NBD_OPT_EXPORT_NAME from a client without fixed newstyle, an unusable
 * NBD_OPT_EXPORT_NAME (which cannot be refused with a reply).
 *
 * What is checked: data lengths exactly as each option defines them;
 * strings at most NBD_MAX_STRING bytes without NUL; STARTTLS refused
 * (NBD_REP_ERR_POLICY: no TLS on a local socket); meta contexts only after
 * structured replies; unknown options NBD_REP_ERR_UNSUP.  A valid
 * NBD_OPT_STRUCTURED_REPLY sets hs->structured: the ACK must follow.
 * Whether an export name exists is the caller's question.
 */
ssize_t lund_nbd_parse_option(const uint8_t *buf, size_t len, struct lund_nbd_hs *hs,
			      struct lund_nbd_opt *out, size_t *need, char *err, size_t errlen);

/* ---- Option replies.  Each returns the bytes written. ---- */

/* The generic header; `len` bytes of reply data follow it. */
size_t lund_nbd_opt_reply_hdr(uint8_t out[NBD_OPT_REPLY_HDR_LEN], uint32_t opt, uint32_t reply,
			      uint32_t len);

/* A complete reply with no data (NBD_REP_ACK) or an error with a message
 * (truncated to fit cap and NBD_MAX_STRING).  cap >= NBD_OPT_REPLY_HDR_LEN. */
size_t lund_nbd_opt_reply(uint8_t *out, size_t cap, uint32_t opt, uint32_t reply,
			  const char *msg);

/* NBD_REP_SERVER for NBD_OPT_LIST: header and the name length; the name,
 * then the description (may be empty), follow as iovecs. */
#define LUND_NBD_REP_SERVER_HDR_LEN 24
size_t lund_nbd_rep_server_hdr(uint8_t out[LUND_NBD_REP_SERVER_HDR_LEN], uint32_t name_len,
			       uint32_t desc_len);

/* NBD_REP_INFO replies for INFO/GO. */
#define LUND_NBD_INFO_EXPORT_LEN 32
#define LUND_NBD_INFO_BLOCK_SIZE_LEN 34
#define LUND_NBD_INFO_STRING_HDR_LEN 22
size_t lund_nbd_rep_info_export(uint8_t out[LUND_NBD_INFO_EXPORT_LEN], uint32_t opt,
				uint64_t size, uint16_t tflags);
size_t lund_nbd_rep_info_block_size(uint8_t out[LUND_NBD_INFO_BLOCK_SIZE_LEN], uint32_t opt,
				    uint32_t min, uint32_t pref, uint32_t max);
/* NBD_INFO_NAME or NBD_INFO_DESCRIPTION: header; the string follows. */
size_t lund_nbd_rep_info_string_hdr(uint8_t out[LUND_NBD_INFO_STRING_HDR_LEN], uint32_t opt,
				    uint16_t info, uint32_t len);

/*
 * The whole successful answer to NBD_OPT_INFO or NBD_OPT_GO in one buffer:
 * NBD_INFO_EXPORT, NBD_INFO_NAME and NBD_INFO_DESCRIPTION when asked for
 * (description only when not empty), NBD_INFO_BLOCK_SIZE always (the
 * protocol lets a server volunteer it, and honest sizes help every
 * client), then NBD_REP_ACK.  `name` is the export's canonical name.
 * Returns the length, or 0 when cap is too small
 * (LUND_NBD_INFO_REPLY_MAX always suffices).
 */
#define LUND_NBD_INFO_REPLY_MAX                                                                  \
	(LUND_NBD_INFO_EXPORT_LEN + 2 * (LUND_NBD_INFO_STRING_HDR_LEN + NBD_MAX_STRING) +         \
	 LUND_NBD_INFO_BLOCK_SIZE_LEN + NBD_OPT_REPLY_HDR_LEN)
size_t lund_nbd_info_reply(uint8_t *out, size_t cap, const struct lund_nbd_opt *o,
			   const struct lund_nbd_export *e, uint16_t tflags, const char *name,
			   const char *description);

/* The answer to NBD_OPT_EXPORT_NAME: size, flags, and 124 zero bytes
 * unless the client asked for none.  Returns 10 or 134. */
size_t lund_nbd_export_name_reply(uint8_t out[NBD_EXPORT_NAME_REPLY_LEN],
				  const struct lund_nbd_hs *hs, uint64_t size, uint16_t tflags);

/* ------------------------------------------------------------------ */
/* Transmission                                                        */

/* What was agreed for the transmission phase. */
struct lund_nbd_xport {
	uint64_t size; /* the export's size */
	uint16_t tflags; /* as sent: decides which commands and flags are allowed */
	bool structured;
	uint32_t min_block; /* offsets and lengths must be multiples; 0 or 1: any */
	uint32_t max_payload; /* largest READ/WRITE; 0: LUND_NBD_MAX_PAYLOAD */
};

/* One request header.  When `error` is not 0 the request must be answered
 * with that error (and `why` as the message of a structured error chunk);
 * a WRITE's payload is on the wire all the same and must be discarded. */
struct lund_nbd_req {
	uint16_t flags; /* NBD_CMD_FLAG_* */
	uint16_t type; /* NBD_CMD_* */
	uint64_t handle; /* opaque; echoed in the reply */
	uint64_t offset;
	uint32_t length;
	uint32_t payload; /* write data following the header: length for WRITE, else 0 */
	uint32_t error; /* 0, or NBD_E* */
	char why[128];
};

/*
 * Parse one request header.  Returns NBD_REQUEST_LEN (only the header is
 * consumed), 0 when fewer bytes are there, or -1 with a sentence in err on
 * bad magic (the stream is lost).  Validation, each with its error value:
 *   unknown command, unknown flag, a flag not valid for the command or not
 *   advertised, a command not advertised, zero length, offset or length
 *   not a multiple of min_block, FLUSH or DISC with offset or length,
 *   BLOCK_STATUS (no metadata context is ever negotiated)      EINVAL
 *   READ or WRITE longer than max_payload                      EOVERFLOW
 *   WRITE, TRIM, WRITE_ZEROES on a read-only export             EPERM
 *   WRITE, TRIM, WRITE_ZEROES past the end of the export        ENOSPC
 *   READ, CACHE past the end of the export                     EINVAL
 * No allocation and no formatting unless the request is refused.
 */
ssize_t lund_nbd_parse_request(const uint8_t *buf, size_t len, const struct lund_nbd_xport *x,
			       struct lund_nbd_req *out, char *err, size_t errlen);

/* ---- Replies.  Each returns the bytes written. ---- */

/* Simple reply (the only kind without structured replies); a successful
 * READ's data follows it. */
size_t lund_nbd_simple_reply(uint8_t out[NBD_SIMPLE_REPLY_LEN], uint32_t error,
			     uint64_t handle);

/* A structured reply chunk header; `length` bytes of payload follow. */
size_t lund_nbd_chunk_hdr(uint8_t out[NBD_CHUNK_HDR_LEN], uint16_t flags, uint16_t type,
			  uint64_t handle, uint32_t length);

/* NBD_REPLY_TYPE_NONE with NBD_REPLY_FLAG_DONE: success without data. */
size_t lund_nbd_reply_none(uint8_t out[NBD_CHUNK_HDR_LEN], uint64_t handle);

/* NBD_REPLY_TYPE_OFFSET_DATA header and offset; data_len bytes of data
 * follow as iovecs.  Returns 0 when data_len does not fit a chunk
 * (over 2^32 - 9 bytes: split the read). */
size_t lund_nbd_reply_offset_data(uint8_t out[NBD_OFFSET_DATA_HDR_LEN], uint64_t handle,
				  uint64_t offset, uint32_t data_len, bool done);

/* NBD_REPLY_TYPE_ERROR with NBD_REPLY_FLAG_DONE, with the message copied
 * (truncated to fit cap; errors are rare, copying keeps it one write).
 * cap >= NBD_CHUNK_HDR_LEN + 6.  error 0 is sent as EIO: the protocol
 * forbids a zero error in an error chunk. */
size_t lund_nbd_reply_error(uint8_t *out, size_t cap, uint64_t handle, uint32_t error,
			    const char *msg);

#endif
