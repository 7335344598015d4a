/*
 * scsi.h - floor 2: SCSI command builders and response parsers (SPC-4,
 * SBC-3).  Pure functions over byte buffers: no I/O, no allocation.
 */
#ifndef LUNARIS_SCSI_H
#define LUNARIS_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SCSI status codes (SAM-5). */
enum lun_scsi_status {
	LUN_SCSI_GOOD = 0x00,
	LUN_SCSI_CHECK_CONDITION = 0x02,
	LUN_SCSI_CONDITION_MET = 0x04,
	LUN_SCSI_BUSY = 0x08,
	LUN_SCSI_RESERVATION_CONFLICT = 0x18,
	LUN_SCSI_TASK_SET_FULL = 0x28,
	LUN_SCSI_ACA_ACTIVE = 0x30,
	LUN_SCSI_TASK_ABORTED = 0x40,
};

/* "GOOD", "CHECK CONDITION", ...; "unknown status" for other values. */
const char *lun_scsi_status_str(uint8_t status);

/* ---- CDB builders: each fills cdb (16 bytes, zeroed first) and returns the
 * CDB length (6, 10, 12 or 16). */
size_t lun_cdb_test_unit_ready(uint8_t cdb[16]);
size_t lun_cdb_inquiry(uint8_t cdb[16], bool evpd, uint8_t page, uint16_t alloc_len);
size_t lun_cdb_report_luns(uint8_t cdb[16], uint32_t alloc_len);
size_t lun_cdb_read_capacity10(uint8_t cdb[16]);
size_t lun_cdb_read_capacity16(uint8_t cdb[16], uint32_t alloc_len);
size_t lun_cdb_read10(uint8_t cdb[16], uint32_t lba, uint16_t blocks);
size_t lun_cdb_read16(uint8_t cdb[16], uint64_t lba, uint32_t blocks);
size_t lun_cdb_write10(uint8_t cdb[16], uint32_t lba, uint16_t blocks);
size_t lun_cdb_write16(uint8_t cdb[16], uint64_t lba, uint32_t blocks);
size_t lun_cdb_synchronize_cache10(uint8_t cdb[16], uint32_t lba, uint16_t blocks);
size_t lun_cdb_unmap(uint8_t cdb[16], uint16_t param_len);
size_t lun_cdb_write_same16(uint8_t cdb[16], uint64_t lba, uint32_t blocks, bool unmap);
size_t lun_cdb_request_sense(uint8_t cdb[16], uint8_t alloc_len);
size_t lun_cdb_report_target_port_groups(uint8_t cdb[16], uint32_t alloc_len);

/* UNMAP parameter list with one block descriptor; returns its length (24). */
size_t lun_unmap_param_build(uint8_t out[24], uint64_t lba, uint32_t blocks);

/* ---- Parsers: return 0, or -1 with a sentence in err when the buffer is
 * too short or inconsistent.  They never read past len. */

struct lun_inquiry {
	uint8_t qualifier; /* peripheral qualifier (3 bits) */
	uint8_t device_type; /* peripheral device type (5 bits) */
	bool removable;
	uint8_t version;
	char vendor[9]; /* trailing spaces trimmed, NUL-terminated */
	char product[17];
	char revision[5];
};
int lun_parse_inquiry(const uint8_t *buf, size_t len, struct lun_inquiry *out, char *err,
		      size_t errlen);

/* "DIRECT_ACCESS", "SEQUENTIAL_ACCESS", ..., "STORAGE_ARRAY_CONTROLLER",
 * "ENCLOSURE_SERVICES", ... (libiscsi's names), "UNKNOWN" otherwise. */
const char *lun_device_type_str(uint8_t device_type);

/* VPD 0x00: supported pages. */
struct lun_vpd_pages {
	size_t count;
	uint8_t pages[255];
};
int lun_parse_vpd_supported(const uint8_t *buf, size_t len, struct lun_vpd_pages *out, char *err,
			    size_t errlen);

/* VPD 0x80: unit serial number, leading and trailing spaces trimmed. */
int lun_parse_vpd_serial(const uint8_t *buf, size_t len, char *out, size_t cap, char *err,
			 size_t errlen);

/* VPD 0x83 designator types (SPC-4 7.8.6). */
enum lun_desig_type {
	LUN_DESIG_VENDOR = 0,
	LUN_DESIG_T10 = 1,
	LUN_DESIG_EUI64 = 2,
	LUN_DESIG_NAA = 3,
	LUN_DESIG_RELATIVE_PORT = 4,
	LUN_DESIG_TPG = 5,
	LUN_DESIG_LU_GROUP = 6,
	LUN_DESIG_MD5 = 7,
	LUN_DESIG_SCSI_NAME = 8,
	LUN_DESIG_PROTOCOL_PORT = 9,
	LUN_DESIG_UUID = 10,
};

struct lun_designator {
	uint8_t code_set; /* 1 binary, 2 ASCII, 3 UTF-8 */
	uint8_t type; /* enum lun_desig_type */
	uint8_t association; /* 0 LU, 1 target port, 2 target device */
	uint8_t protocol_id;
	bool piv;
	uint8_t len;
	uint8_t value[255];
};

#define LUN_VPD83_MAX 16
struct lun_vpd_ids {
	size_t count; /* designators kept, at most LUN_VPD83_MAX */
	struct lun_designator d[LUN_VPD83_MAX];
};
int lun_parse_vpd_ids(const uint8_t *buf, size_t len, struct lun_vpd_ids *out, char *err,
		      size_t errlen);

/*
 * The LU identifier used for names and multipath: the LU-associated NAA
 * designator ranked by its NAA nibble, 6 > 5 > 2 > 3 > others (first wins a
 * tie), else EUI-64, else T10 vendor id.  Written as uppercase hex of the
 * designator value for NAA and EUI-64 (tgtd: "60000000000000000E00000000010001"),
 * and for T10 as hex of the ASCII bytes.  Returns the designator type used, or -1 when
 * there is no usable identifier.  out must hold 2*255+1 bytes.
 */
int lun_vpd_ids_identifier(const struct lun_vpd_ids *ids, char *out, size_t cap);
/* Human form of one designator: "NAA:600..." , "EUI64:...", "T10:IET     00010001". */
void lun_designator_str(const struct lun_designator *d, char *out, size_t cap);

/* VPD 0xB0: block limits (fields that are zero mean "not reported"). */
struct lun_vpd_block_limits {
	uint16_t opt_xfer_granularity;
	uint32_t max_xfer_len;
	uint32_t opt_xfer_len;
	uint32_t max_unmap_lba_count;
	uint32_t max_unmap_desc_count;
	uint32_t unmap_granularity;
	uint64_t max_write_same_len;
};
int lun_parse_vpd_block_limits(const uint8_t *buf, size_t len, struct lun_vpd_block_limits *out,
			       char *err, size_t errlen);

struct lun_capacity {
	uint64_t last_lba;
	uint32_t block_size;
	uint64_t blocks; /* last_lba + 1 */
	bool thin; /* LBPME, READ CAPACITY 16 only */
};
int lun_parse_read_capacity10(const uint8_t *buf, size_t len, struct lun_capacity *out, char *err,
			      size_t errlen);
int lun_parse_read_capacity16(const uint8_t *buf, size_t len, struct lun_capacity *out, char *err,
			      size_t errlen);

/*
 * REPORT LUNS: fills luns[] (up to cap) with LUN numbers decoded from
 * peripheral (00b) and flat (01b) addressing; other methods are skipped.
 * *total is the number of entries the target said it has (may exceed what
 * the buffer held: the caller retries with a bigger buffer).
 * Returns the number stored, or -1 with err.
 */
int lun_parse_report_luns(const uint8_t *buf, size_t len, uint16_t *luns, size_t cap,
			  size_t *total, char *err, size_t errlen);

/* Encode a LUN number as the 8-byte LUN field (peripheral < 256, flat up to
 * 16383), as an integer ready for the PDU's lun field. */
uint64_t lun_scsi_lun_encode(uint16_t lun);

/* Sense data, fixed (0x70/0x71) or descriptor (0x72/0x73) format. */
struct lun_sense {
	bool valid;
	bool descriptor;
	bool deferred;
	uint8_t key, asc, ascq;
	bool info_valid;
	uint64_t info;
};
int lun_parse_sense(const uint8_t *buf, size_t len, struct lun_sense *out, char *err,
		    size_t errlen);
const char *lun_sense_key_str(uint8_t key); /* "NOT READY", "ILLEGAL REQUEST", ... */
/* Text for ASC/ASCQ from a table of the common codes; NULL when unknown. */
const char *lun_asc_str(uint8_t asc, uint8_t ascq);
/* "ILLEGAL REQUEST: LOGICAL BLOCK ADDRESS OUT OF RANGE (0x21/0x00)" */
void lun_sense_str(const struct lun_sense *s, char *out, size_t cap);

/* iSCSI SCSI Response data segment: 2-byte SenseLength then sense data.
 * Sets *sense and *sense_len to the sense bytes inside buf. */
int lun_iscsi_sense_split(const uint8_t *buf, size_t len, const uint8_t **sense,
			  size_t *sense_len, char *err, size_t errlen);

#endif
