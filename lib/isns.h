/*
 * isns.h - floor 2: the iSNS protocol (iSNSP, RFC 4171) as a pure codec:
 * bytes in, structs out; no sockets, no clocks, no globals.
 *
 * An iSNSP PDU is a 12-byte header (version 1, function ID, PDU length,
 * flags, transaction ID, sequence ID; all big-endian 16-bit fields) and a
 * payload of TLV attributes: 4-byte tag, 4-byte length (a multiple of 4),
 * value.  Strings are NUL-terminated and NUL-padded to the 4-byte boundary;
 * addresses are 16 bytes in IPv6 form (IPv4 as ::ffff:a.b.c.d).  A request
 * payload is
 *
 *     Source attribute, Message Key attributes, Delimiter (tag 0, length 0),
 *     Operating attributes
 *
 * and a response payload is a 4-byte status code followed by the same
 * layout without the source.  A message larger than one PDU is split into
 * PDUs with the same transaction ID and increasing sequence IDs, the first
 * flagged FIRST PDU and the last LAST PDU (lun_isns_reasm joins them).
 *
 * What lunarisd needs is built here: DevAttrReg of the initiator, SCNReg,
 * DevGetNext over storage nodes, DevAttrQry for a target's portal groups,
 * DevDereg, and the answers to what the server sends us (SCN -> SCNRsp,
 * ESI -> ESIRsp).  Decoding is strict: a length that overruns, a string
 * without its NUL, a value of the wrong size, an attribute where it does not
 * belong are errors with a sentence in err.
 */
#ifndef LUNARIS_ISNS_H
#define LUNARIS_ISNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LUN_ISNS_VERSION 1
#define LUN_ISNS_HDR_LEN 12
#define LUN_ISNS_PORT 3205
/* The PDU length field is 16 bits and payloads are whole 4-byte words. */
#define LUN_ISNS_MAX_PDU_PAYLOAD 65532u
/* A joined multi-PDU message larger than this is refused (no real answer
 * of a node query comes near it). */
#define LUN_ISNS_MAX_MSG (1u << 20)
/* Requests we build are single PDUs of at most this size (names are at most
 * 223 bytes; a registration is well under 1 KiB). */
#define LUN_ISNS_MAX_REQ 2048
#define LUN_ISNS_NAME_MAX 223 /* iSCSI names (RFC 7143 4.2.7.1) */
#define LUN_ISNS_EID_MAX 255

/* Function IDs (RFC 4171 5.1.3); a response is the request's ID | 0x8000. */
enum lun_isns_func {
	LUN_ISNS_DEV_ATTR_REG = 0x0001,
	LUN_ISNS_DEV_ATTR_QRY = 0x0002,
	LUN_ISNS_DEV_GET_NEXT = 0x0003,
	LUN_ISNS_DEV_DEREG = 0x0004,
	LUN_ISNS_SCN_REG = 0x0005,
	LUN_ISNS_SCN_DEREG = 0x0006,
	LUN_ISNS_SCN_EVENT = 0x0007,
	LUN_ISNS_SCN = 0x0008,
	LUN_ISNS_DD_REG = 0x0009,
	LUN_ISNS_DD_DEREG = 0x000a,
	LUN_ISNS_DDS_REG = 0x000b,
	LUN_ISNS_DDS_DEREG = 0x000c,
	LUN_ISNS_ESI = 0x000d,
	LUN_ISNS_HEARTBEAT = 0x000e,
	LUN_ISNS_RESPONSE = 0x8000,
};

/* Header flags (RFC 4171 5.1.4). */
#define LUN_ISNS_F_CLIENT 0x8000 /* sender is an iSNS client */
#define LUN_ISNS_F_SERVER 0x4000 /* sender is an iSNS server */
#define LUN_ISNS_F_AUTH 0x2000 /* an authentication block follows */
#define LUN_ISNS_F_REPLACE 0x1000 /* DevAttrReg replaces the entity */
#define LUN_ISNS_F_LAST 0x0800 /* last PDU of the message */
#define LUN_ISNS_F_FIRST 0x0400 /* first PDU of the message */
#define LUN_ISNS_F_RESERVED 0x03ff

/* Attribute tags used here (RFC 4171 6.1). */
enum lun_isns_tag {
	LUN_ISNS_TAG_DELIMITER = 0,
	LUN_ISNS_TAG_EID = 1,
	LUN_ISNS_TAG_ENTITY_PROTOCOL = 2,
	LUN_ISNS_TAG_MGMT_IP = 3,
	LUN_ISNS_TAG_TIMESTAMP = 4,
	LUN_ISNS_TAG_PROTOCOL_VERSION_RANGE = 5,
	LUN_ISNS_TAG_REGISTRATION_PERIOD = 6,
	LUN_ISNS_TAG_ENTITY_INDEX = 7,
	LUN_ISNS_TAG_PORTAL_IP = 16,
	LUN_ISNS_TAG_PORTAL_PORT = 17,
	LUN_ISNS_TAG_PORTAL_SYMBOLIC_NAME = 18,
	LUN_ISNS_TAG_ESI_INTERVAL = 19,
	LUN_ISNS_TAG_ESI_PORT = 20,
	LUN_ISNS_TAG_PORTAL_INDEX = 22,
	LUN_ISNS_TAG_SCN_PORT = 23,
	LUN_ISNS_TAG_ISCSI_NAME = 32,
	LUN_ISNS_TAG_ISCSI_NODE_TYPE = 33,
	LUN_ISNS_TAG_ISCSI_ALIAS = 34,
	LUN_ISNS_TAG_ISCSI_SCN_BITMAP = 35,
	LUN_ISNS_TAG_ISCSI_NODE_INDEX = 36,
	LUN_ISNS_TAG_PG_ISCSI_NAME = 48,
	LUN_ISNS_TAG_PG_PORTAL_IP = 49,
	LUN_ISNS_TAG_PG_PORTAL_PORT = 50,
	LUN_ISNS_TAG_PG_TAG = 51,
	LUN_ISNS_TAG_PG_INDEX = 52,
	LUN_ISNS_TAG_DDS_ID = 2049,
	LUN_ISNS_TAG_DD_ID = 2065,
};

#define LUN_ISNS_ENTITY_PROTOCOL_ISCSI 2

/* iSCSI Node Type bits (tag 33). */
#define LUN_ISNS_NODE_TARGET 0x1
#define LUN_ISNS_NODE_INITIATOR 0x2
#define LUN_ISNS_NODE_CONTROL 0x4

/* iSCSI SCN Bitmap bits (tag 35; RFC bit 31 is the least significant). */
#define LUN_ISNS_SCN_DD_MEMBER_ADDED 0x01
#define LUN_ISNS_SCN_DD_MEMBER_REMOVED 0x02
#define LUN_ISNS_SCN_OBJECT_UPDATED 0x04
#define LUN_ISNS_SCN_OBJECT_ADDED 0x08
#define LUN_ISNS_SCN_OBJECT_REMOVED 0x10
#define LUN_ISNS_SCN_MANAGEMENT 0x20
#define LUN_ISNS_SCN_TARGET_AND_SELF_ONLY 0x40
#define LUN_ISNS_SCN_INITIATOR_AND_SELF_ONLY 0x80

/* Portal TCP/UDP Port values (tags 17, 20, 23, 50): the port in the low 16
 * bits; this bit set means UDP. */
#define LUN_ISNS_PORT_UDP 0x10000u

/* Status codes (RFC 4171 6.4.1); lun_isns_status_str() has them in words. */
enum lun_isns_status {
	LUN_ISNS_OK = 0,
	LUN_ISNS_UNKNOWN_ERROR = 1,
	LUN_ISNS_MSG_FORMAT_ERROR = 2,
	LUN_ISNS_INVALID_REGISTRATION = 3,
	LUN_ISNS_INVALID_QUERY = 5,
	LUN_ISNS_SOURCE_UNKNOWN = 6,
	LUN_ISNS_SOURCE_ABSENT = 7,
	LUN_ISNS_SOURCE_UNAUTHORIZED = 8,
	LUN_ISNS_NO_SUCH_ENTRY = 9,
	LUN_ISNS_VERSION_NOT_SUPPORTED = 10,
	LUN_ISNS_INTERNAL_ERROR = 11,
	LUN_ISNS_BUSY = 12,
	LUN_ISNS_OPTION_NOT_UNDERSTOOD = 13,
	LUN_ISNS_INVALID_UPDATE = 14,
	LUN_ISNS_MSG_NOT_SUPPORTED = 15,
	LUN_ISNS_SCN_EVENT_REJECTED = 16,
	LUN_ISNS_SCN_REG_REJECTED = 17,
	LUN_ISNS_ATTR_NOT_IMPLEMENTED = 18,
	LUN_ISNS_ESI_NOT_AVAILABLE = 21,
	LUN_ISNS_INVALID_DEREG = 22,
	LUN_ISNS_REG_FEATURE_NOT_SUPPORTED = 23,
};

/* "no such entry", "source unauthorized", ...; "status N" when unknown. */
const char *lun_isns_status_str(uint32_t status, char *buf, size_t cap);
/* "DevAttrReg", "SCNRsp", ...; "function 0xNNNN" when unknown. */
const char *lun_isns_func_str(uint16_t func, char *buf, size_t cap);
/* "object-added", "object-removed,object-updated", ...; "none" for 0. */
const char *lun_isns_scn_str(uint32_t bitmap, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Header                                                              */

struct lun_isns_hdr {
	uint16_t version;
	uint16_t func;
	uint16_t len; /* payload bytes after the header */
	uint16_t flags;
	uint16_t xid;
	uint16_t seq;
};

/* Decode the first LUN_ISNS_HDR_LEN bytes.  Rejects: fewer bytes, a version
 * other than 1, a payload length that is not a multiple of 4, reserved flag
 * bits, an authentication block (lunaris does not do iSNS security).
 * Returns 0 or -1 with a sentence in err. */
int lun_isns_hdr_decode(const uint8_t *p, size_t n, struct lun_isns_hdr *h, char *err,
			size_t errlen);
void lun_isns_hdr_encode(uint8_t *p, const struct lun_isns_hdr *h);

/* ------------------------------------------------------------------ */
/* Attributes                                                          */

struct lun_isns_attr {
	uint32_t tag;
	uint32_t len;
	const uint8_t *val;
};

/* The attribute at *off of a payload; advances *off.  Returns 1 with *a
 * set, 0 at the end, -1 (err) for a truncated header, a length that is not
 * a multiple of 4 or that overruns the payload. */
int lun_isns_attr_next(const uint8_t *p, size_t n, size_t *off, struct lun_isns_attr *a,
		       char *err, size_t errlen);

/* Values.  Each returns 0 or -1 with a sentence naming the tag.
 *   string: NUL-terminated inside the value, only NULs after it, shorter
 *           than cap; a zero-length value reads as "".
 *   u32 / u64: exactly 4 / 8 bytes.
 *   addr: exactly 16 bytes; IPv4-mapped (::ffff:a.b.c.d, RFC 4171) and the
 *         older IPv4-compatible form (::a.b.c.d, which open-isns writes for
 *         addresses given on its command line) read as "a.b.c.d", anything
 *         else as an IPv6 address without brackets. */
int lun_isns_attr_string(const struct lun_isns_attr *a, char *buf, size_t cap, char *err,
			 size_t errlen);
int lun_isns_attr_u32(const struct lun_isns_attr *a, uint32_t *v, char *err, size_t errlen);
int lun_isns_attr_u64(const struct lun_isns_attr *a, uint64_t *v, char *err, size_t errlen);
int lun_isns_attr_addr(const struct lun_isns_attr *a, char *buf, size_t cap, char *err,
		       size_t errlen);
/* A numeric IPv4 or IPv6 address into the 16-byte form (IPv4 mapped).
 * Returns 0, or -1 when the text is not a numeric address. */
int lun_isns_addr_from_string(const char *host, uint8_t out[16]);

/* ------------------------------------------------------------------ */
/* Building requests                                                   */

/* One PDU under construction in a fixed buffer; an overflow is remembered
 * and reported by lun_isns_finish(). */
struct lun_isns_msg {
	uint8_t buf[LUN_ISNS_MAX_REQ];
	size_t len;
	bool overflow;
};

void lun_isns_begin(struct lun_isns_msg *m, uint16_t func, uint16_t flags, uint16_t xid);
void lun_isns_put_string(struct lun_isns_msg *m, uint32_t tag, const char *s);
void lun_isns_put_u32(struct lun_isns_msg *m, uint32_t tag, uint32_t v);
void lun_isns_put_u64(struct lun_isns_msg *m, uint32_t tag, uint64_t v);
void lun_isns_put_addr(struct lun_isns_msg *m, uint32_t tag, const uint8_t addr[16]);
/* A zero-length attribute: the delimiter (tag 0), or a "return this"
 * attribute in a query. */
void lun_isns_put_nil(struct lun_isns_msg *m, uint32_t tag);
void lun_isns_put_raw(struct lun_isns_msg *m, const uint8_t *p, size_t n);
/* Fill in the PDU length; -1 (err) on overflow. */
int lun_isns_finish(struct lun_isns_msg *m, char *err, size_t errlen);

/* The initiator's registration.  The entity (eid) holds one iSCSI storage
 * node (name, type initiator) and, when portal_addr is set, one portal
 * (portal_addr:portal_port) whose SCN Port is scn_port (0: none).  RFC 4171
 * delivers SCNs only to a portal's registered SCN port (isnsd rejects an
 * SCNReg without one), so lunarisd always registers a portal. */
struct lun_isns_reg {
	const char *source; /* our iSCSI name */
	const char *eid;
	const char *alias; /* NULL or "" for none */
	const uint8_t *portal_addr; /* 16 bytes, or NULL */
	uint16_t portal_port;
	uint16_t scn_port;
	bool replace; /* first registration: replace what an earlier run left */
};

/* Each builder returns 0, or -1 with err (a name too long, ...). */
int lun_isns_build_reg(struct lun_isns_msg *m, uint16_t xid, const struct lun_isns_reg *r,
		       char *err, size_t errlen);
/* SCNReg for our node with the given bitmap. */
int lun_isns_build_scn_reg(struct lun_isns_msg *m, uint16_t xid, const char *source,
			   uint32_t bitmap, char *err, size_t errlen);
/* DevGetNext over iSCSI storage nodes after `prev` ("" = from the start),
 * scoped to nodes whose type equals node_type (0: no scope), asking for the
 * node type of the next node. */
int lun_isns_build_getnext(struct lun_isns_msg *m, uint16_t xid, const char *source,
			   const char *prev, uint32_t node_type, char *err, size_t errlen);
/* DevAttrQry: the portal groups (PG name, address, port, tag) of a node. */
int lun_isns_build_qry_portals(struct lun_isns_msg *m, uint16_t xid, const char *source,
			       const char *node, char *err, size_t errlen);
/* DevDereg of our entity (and with it our node and portal). */
int lun_isns_build_dereg(struct lun_isns_msg *m, uint16_t xid, const char *source,
			 const char *eid, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Parsing responses                                                   */

/* A response's common part: the status code and the attributes after it. */
struct lun_isns_rsp {
	uint32_t status;
	const uint8_t *attrs;
	size_t attrs_len;
};

/* Check that `func` answers `req_func` and split off the status.  Returns 0,
 * or -1 (err) for a message that is not that response or has no status. */
int lun_isns_parse_rsp(uint16_t func, uint16_t req_func, const uint8_t *payload, size_t len,
		       struct lun_isns_rsp *r, char *err, size_t errlen);

/* DevAttrRegRsp: status must be success; *period = the entity's
 * Registration Period in seconds (0 when the server sent none).  A refusal
 * is an error "the server refused DevAttrReg: source unauthorized". */
int lun_isns_parse_reg_rsp(uint16_t func, const uint8_t *payload, size_t len, uint32_t *period,
			   char *err, size_t errlen);
/* Any response whose only news is its status (SCNRegRsp, DevDeregRsp). */
int lun_isns_parse_status_rsp(uint16_t func, uint16_t req_func, const uint8_t *payload,
			      size_t len, char *err, size_t errlen);
/* DevGetNextRsp: returns 1 with the next node's name and type (0 when the
 * server did not return a type), 0 at the end (status "no such entry"),
 * -1 on error. */
int lun_isns_parse_getnext_rsp(uint16_t func, const uint8_t *payload, size_t len, char *name,
			       size_t cap, uint32_t *node_type, char *err, size_t errlen);

struct lun_isns_portal {
	char host[48]; /* IPv4 or IPv6 without brackets */
	uint16_t port;
	uint16_t tpgt;
};

/* DevAttrQryRsp for lun_isns_build_qry_portals(): the portal groups of
 * `node` that carry a tag (a PG with a NULL tag grants no access and is
 * skipped), into a malloc'ed array (*out; NULL when none).  Returns the
 * count, 0 also when the node is gone ("no such entry"), or -1. */
int lun_isns_parse_portals_rsp(uint16_t func, const uint8_t *payload, size_t len,
			       const char *node, struct lun_isns_portal **out, char *err,
			       size_t errlen);

/* ------------------------------------------------------------------ */
/* Messages from the server: SCN and ESI                               */

#define LUN_ISNS_SCN_MAX_EVENTS 32

struct lun_isns_scn_event {
	uint32_t bitmap;
	char name[LUN_ISNS_NAME_MAX + 1];
};

struct lun_isns_scn {
	char dest[LUN_ISNS_NAME_MAX + 1]; /* the node the SCN is for: us */
	uint64_t timestamp;
	size_t nevents;
	size_t more; /* events beyond LUN_ISNS_SCN_MAX_EVENTS, counted only */
	struct lun_isns_scn_event ev[LUN_ISNS_SCN_MAX_EVENTS];
};

/* An SCN payload: Destination (iSCSI Name), Timestamp, then per event an
 * iSCSI SCN Bitmap and the iSCSI Name it is about, optionally followed by
 * DD_ID / DDS_ID attributes (management SCNs).  Returns 0 or -1 (err). */
int lun_isns_parse_scn(const uint8_t *payload, size_t len, struct lun_isns_scn *out, char *err,
		       size_t errlen);
/* SCNRsp for a received SCN: same transaction ID, status, the destination
 * attribute. */
int lun_isns_build_scn_rsp(struct lun_isns_msg *m, uint16_t xid, uint32_t status,
			   const char *dest, char *err, size_t errlen);

struct lun_isns_esi {
	uint64_t timestamp;
	char eid[LUN_ISNS_EID_MAX + 1];
	char addr[48];
	uint16_t port;
};

/* An ESI payload: Timestamp, Entity Identifier, Portal IP Address, Portal
 * TCP/UDP Port.  Returns 0 or -1 (err). */
int lun_isns_parse_esi(const uint8_t *payload, size_t len, struct lun_isns_esi *out, char *err,
		       size_t errlen);
/* ESIRsp: status, then the ESI's attributes echoed (RFC 4171 5.7.5.13). */
int lun_isns_build_esi_rsp(struct lun_isns_msg *m, uint16_t xid, uint32_t status,
			   const uint8_t *esi_payload, size_t len, char *err, size_t errlen);
/* A bare response with only a status (for a request we do not serve). */
int lun_isns_build_status_rsp(struct lun_isns_msg *m, uint16_t func, uint16_t xid,
			      uint32_t status, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Multi-PDU messages                                                  */

/* Joins the PDUs of one message.  Feed every PDU in arrival order; the first
 * must carry FIRST PDU (sequence 0), the next ones the same function and
 * transaction ID and sequence IDs counting up by one; LAST PDU completes. */
struct lun_isns_reasm {
	bool active, done;
	uint16_t func, xid, flags, next_seq;
	uint8_t *buf; /* the joined payload (malloc'ed) */
	size_t len, cap;
};

/* Returns 1 when the message is complete (r->buf, r->len, r->func, r->xid,
 * r->flags of the first PDU), 0 when more PDUs are needed, -1 (err) for a
 * PDU out of order, a message over LUN_ISNS_MAX_MSG or no memory; after 1
 * or -1 the next PDU starts a new message. */
int lun_isns_reasm_add(struct lun_isns_reasm *r, const struct lun_isns_hdr *h,
		       const uint8_t *payload, char *err, size_t errlen);
void lun_isns_reasm_free(struct lun_isns_reasm *r);

#endif
