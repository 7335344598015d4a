/*
 * pdu.h - floor 2: the iSCSI PDU codec (RFC 7143 section 11).
 *
 * Every PDU starts with a 48-byte Basic Header Segment (BHS), optionally
 * followed by Additional Header Segments (AHS), a header digest, a data
 * segment padded to 4 bytes and a data digest.  This file turns a BHS into a
 * typed struct and back.  It does no I/O and keeps no state: the connection
 * code (conn.c) reads 48 bytes, calls lun_pdu_decode(), then reads the rest
 * according to the lengths it returns.
 *
 * Decoding is strict: an opcode the receiver should never see, a reserved bit
 * or field that is not zero, or a length that is impossible for that opcode
 * is a protocol error with a sentence that says which field was wrong.
 */
#ifndef LUNARIS_PDU_H
#define LUNARIS_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LUN_BHS_LEN 48
#define LUN_DIGEST_LEN 4
#define LUN_RSVD_TAG 0xffffffffu /* the reserved ITT/TTT value */

/* Opcodes (RFC 7143 section 11.1.1).  Initiator opcodes are 0x00-0x1f,
 * target opcodes 0x20-0x3f. */
enum lun_opcode {
	LUN_OP_NOP_OUT = 0x00,
	LUN_OP_SCSI_CMD = 0x01,
	LUN_OP_TMF_REQ = 0x02,
	LUN_OP_LOGIN_REQ = 0x03,
	LUN_OP_TEXT_REQ = 0x04,
	LUN_OP_DATA_OUT = 0x05,
	LUN_OP_LOGOUT_REQ = 0x06,
	LUN_OP_SNACK_REQ = 0x10,
	LUN_OP_NOP_IN = 0x20,
	LUN_OP_SCSI_RSP = 0x21,
	LUN_OP_TMF_RSP = 0x22,
	LUN_OP_LOGIN_RSP = 0x23,
	LUN_OP_TEXT_RSP = 0x24,
	LUN_OP_DATA_IN = 0x25,
	LUN_OP_LOGOUT_RSP = 0x26,
	LUN_OP_R2T = 0x31,
	LUN_OP_ASYNC = 0x32,
	LUN_OP_REJECT = 0x3f,
};

/* Who sent the bytes being decoded: a target sends only target opcodes. */
enum lun_pdu_dir {
	LUN_FROM_TARGET = 0,
	LUN_FROM_INITIATOR = 1,
};

/* Login stages (CSG/NSG, RFC 7143 section 11.12.3). */
enum lun_login_stage {
	LUN_STAGE_SECURITY = 0,
	LUN_STAGE_OPERATIONAL = 1,
	LUN_STAGE_FULL_FEATURE = 3,
};

/* SCSI command task attributes (RFC 7143 section 11.3.1). */
enum lun_task_attr {
	LUN_ATTR_UNTAGGED = 0,
	LUN_ATTR_SIMPLE = 1,
	LUN_ATTR_ORDERED = 2,
	LUN_ATTR_HEAD_OF_QUEUE = 3,
	LUN_ATTR_ACA = 4,
};

/* Logout reason codes (RFC 7143 section 11.14.1). */
enum lun_logout_reason {
	LUN_LOGOUT_CLOSE_SESSION = 0,
	LUN_LOGOUT_CLOSE_CONNECTION = 1,
	LUN_LOGOUT_REMOVE_FOR_RECOVERY = 2,
};

/* Task management functions (RFC 7143 section 11.5.1). */
enum lun_tmf_func {
	LUN_TMF_ABORT_TASK = 1,
	LUN_TMF_ABORT_TASK_SET = 2,
	LUN_TMF_CLEAR_ACA = 3,
	LUN_TMF_CLEAR_TASK_SET = 4,
	LUN_TMF_LOGICAL_UNIT_RESET = 5,
	LUN_TMF_TARGET_WARM_RESET = 6,
	LUN_TMF_TARGET_COLD_RESET = 7,
	LUN_TMF_TASK_REASSIGN = 8,
};

/* Asynchronous events (RFC 7143 section 11.9.1). */
enum lun_async_event {
	LUN_ASYNC_SCSI = 0,
	LUN_ASYNC_REQUEST_LOGOUT = 1,
	LUN_ASYNC_DROP_CONNECTION = 2,
	LUN_ASYNC_DROP_ALL = 3,
	LUN_ASYNC_RENEGOTIATE = 4,
	LUN_ASYNC_VENDOR = 255,
};

struct lun_pdu_nop_out {
	uint64_t lun;
	uint32_t itt, ttt, cmdsn, expstatsn;
};

struct lun_pdu_nop_in {
	uint64_t lun;
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn;
};

struct lun_pdu_scsi_cmd {
	bool final, read, write;
	uint8_t attr; /* enum lun_task_attr */
	uint64_t lun;
	uint32_t itt, edtl, cmdsn, expstatsn;
	uint8_t cdb[16];
};

struct lun_pdu_scsi_rsp {
	bool bidi_overflow, bidi_underflow, overflow, underflow; /* o u O U */
	uint8_t response, status;
	uint32_t itt, snack_tag, statsn, expcmdsn, maxcmdsn, expdatasn;
	uint32_t bidi_residual, residual;
};

struct lun_pdu_tmf_req {
	uint8_t function; /* enum lun_tmf_func */
	uint64_t lun;
	uint32_t itt, rtt, cmdsn, expstatsn, refcmdsn, expdatasn;
};

struct lun_pdu_tmf_rsp {
	uint8_t response;
	uint32_t itt, statsn, expcmdsn, maxcmdsn;
};

struct lun_pdu_login_req {
	bool transit, cont;
	uint8_t csg, nsg; /* enum lun_login_stage */
	uint8_t version_max, version_min;
	uint8_t isid[6];
	uint16_t tsih, cid;
	uint32_t itt, cmdsn, expstatsn;
};

struct lun_pdu_login_rsp {
	bool transit, cont;
	uint8_t csg, nsg;
	uint8_t version_max, version_active;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t itt, statsn, expcmdsn, maxcmdsn;
	uint8_t status_class, status_detail;
};

struct lun_pdu_text_req {
	bool final, cont;
	uint64_t lun;
	uint32_t itt, ttt, cmdsn, expstatsn;
};

struct lun_pdu_text_rsp {
	bool final, cont;
	uint64_t lun;
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn;
};

struct lun_pdu_data_out {
	bool final;
	uint64_t lun;
	uint32_t itt, ttt, expstatsn, datasn, buffer_offset;
};

struct lun_pdu_data_in {
	bool final, ack, overflow, underflow, has_status; /* F A O U S */
	uint8_t status; /* valid only when has_status */
	uint64_t lun;
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn, datasn, buffer_offset;
	uint32_t residual;
};

struct lun_pdu_logout_req {
	uint8_t reason; /* enum lun_logout_reason */
	uint16_t cid;
	uint32_t itt, cmdsn, expstatsn;
};

struct lun_pdu_logout_rsp {
	uint8_t response;
	uint32_t itt, statsn, expcmdsn, maxcmdsn;
	uint16_t time2wait, time2retain;
};

struct lun_pdu_snack_req {
	uint8_t type;
	uint64_t lun;
	uint32_t itt, ttt, expstatsn, begrun, runlength;
};

struct lun_pdu_r2t {
	uint64_t lun;
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn, r2tsn;
	uint32_t buffer_offset, desired_length;
};

struct lun_pdu_async {
	uint64_t lun;
	uint32_t statsn, expcmdsn, maxcmdsn;
	uint8_t event, vcode; /* enum lun_async_event */
	uint16_t param1, param2, param3;
};

struct lun_pdu_reject {
	uint8_t reason;
	uint32_t statsn, expcmdsn, maxcmdsn, datasn_r2tsn;
};

/* One decoded BHS.  `opcode` selects the member of `u`. */
struct lun_pdu {
	uint8_t opcode; /* enum lun_opcode */
	bool immediate; /* I bit; only meaningful for initiator opcodes */
	uint32_t ahs_len; /* bytes of AHS that follow the BHS (multiple of 4) */
	uint32_t data_len; /* DataSegmentLength, before padding */
	union {
		struct lun_pdu_nop_out nop_out;
		struct lun_pdu_nop_in nop_in;
		struct lun_pdu_scsi_cmd scsi_cmd;
		struct lun_pdu_scsi_rsp scsi_rsp;
		struct lun_pdu_tmf_req tmf_req;
		struct lun_pdu_tmf_rsp tmf_rsp;
		struct lun_pdu_login_req login_req;
		struct lun_pdu_login_rsp login_rsp;
		struct lun_pdu_text_req text_req;
		struct lun_pdu_text_rsp text_rsp;
		struct lun_pdu_data_out data_out;
		struct lun_pdu_data_in data_in;
		struct lun_pdu_logout_req logout_req;
		struct lun_pdu_logout_rsp logout_rsp;
		struct lun_pdu_snack_req snack_req;
		struct lun_pdu_r2t r2t;
		struct lun_pdu_async async;
		struct lun_pdu_reject reject;
	} u;
};

/*
 * Encode `p` into `bhs`.  Sets every reserved field to zero.  Returns 0, or
 * -1 with a sentence in err when p holds a value that cannot be encoded
 * (unknown opcode, data_len over 2^24-1, ahs_len not a multiple of 4 or over
 * 1020, a stage or attribute out of range).
 */
int lun_pdu_encode(const struct lun_pdu *p, uint8_t bhs[LUN_BHS_LEN], char *err, size_t errlen);

/*
 * Decode and validate one BHS.  `dir` says who sent it; an opcode of the
 * other side is an error.  Returns 0, or -1 with a sentence in err naming the
 * opcode and the field (for example "Data-In: reserved byte 2 is 0x10, must
 * be 0").  Never reads outside bhs[0..47].
 */
int lun_pdu_decode(const uint8_t bhs[LUN_BHS_LEN], enum lun_pdu_dir dir, struct lun_pdu *p,
		   char *err, size_t errlen);

/* "Login Request", "SCSI Data-In", ...; "unknown opcode" for others. */
const char *lun_pdu_opcode_name(uint8_t opcode);

/* AHS (RFC 7143 section 11.2.2): only the two types RFC 7143 defines. */
enum lun_ahs_type {
	LUN_AHS_EXTENDED_CDB = 1,
	LUN_AHS_BIDI_READ_LENGTH = 2,
};

struct lun_ahs {
	bool has_ext_cdb;
	uint8_t ext_cdb[244]; /* CDB bytes beyond the 16 in the BHS */
	uint16_t ext_cdb_len;
	bool has_bidi_read_length;
	uint32_t bidi_read_length;
};

/*
 * Parse `len` bytes of AHS (len is a multiple of 4, from struct lun_pdu).
 * Each AHS is [AHSLength(2)][type(1)][specific(1)][AHSLength - 1 bytes]
 * padded to 4: AHSLength counts the type-specific byte but not the first
 * three (RFC 7143 11.2.2.2).  Unknown types, overruns, a second AHS of the
 * same type and padding that is not zero are errors.  Returns 0 or -1 with
 * err (and *out zeroed).
 */
int lun_ahs_parse(const uint8_t *buf, size_t len, struct lun_ahs *out, char *err, size_t errlen);

/* Build the AHS for a CDB longer than 16 bytes; returns bytes written (a
 * multiple of 4) or 0 when cap is too small or cdb_len <= 16. */
size_t lun_ahs_build_ext_cdb(const uint8_t *cdb, size_t cdb_len, uint8_t *out, size_t cap);

#endif
