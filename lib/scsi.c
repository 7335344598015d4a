/*
 * scsi.c - floor 2: SCSI CDB builders and response parsers (SPC-4, SBC-3).
 *
 * Every parser takes the bytes the target actually returned.  Two kinds of
 * shortness are told apart: a buffer cut off by the allocation length (SPC-4
 * allows it; we parse the complete parts that are present) and a page whose
 * own length fields disagree with each other (an error).
 */
#include "scsi.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* Status and device type names                                       */

const char *lun_scsi_status_str(uint8_t status)
{
	switch (status) {
	case LUN_SCSI_GOOD:
		return "GOOD";
	case LUN_SCSI_CHECK_CONDITION:
		return "CHECK CONDITION";
	case LUN_SCSI_CONDITION_MET:
		return "CONDITION MET";
	case LUN_SCSI_BUSY:
		return "BUSY";
	case LUN_SCSI_RESERVATION_CONFLICT:
		return "RESERVATION CONFLICT";
	case LUN_SCSI_TASK_SET_FULL:
		return "TASK SET FULL";
	case LUN_SCSI_ACA_ACTIVE:
		return "ACA ACTIVE";
	case LUN_SCSI_TASK_ABORTED:
		return "TASK ABORTED";
	default:
		return "unknown status";
	}
}

/* Spelled as iscsi-ls prints them, so that `lunaris luns` output can be
 * compared with it line by line. */
static const char *const scsi_devtype_names[32] = {
	[0x00] = "DIRECT_ACCESS",
	[0x01] = "SEQUENTIAL_ACCESS",
	[0x02] = "PRINTER",
	[0x03] = "PROCESSOR",
	[0x04] = "WRITE_ONCE",
	[0x05] = "MMC",
	[0x06] = "SCANNER",
	[0x07] = "OPTICAL_MEMORY",
	[0x08] = "MEDIA_CHANGER",
	[0x09] = "COMMUNICATIONS",
	[0x0c] = "STORAGE_ARRAY_CONTROLLER",
	[0x0d] = "ENCLOSURE_SERVICES",
	[0x0e] = "SIMPLIFIED_DIRECT_ACCESS",
	[0x0f] = "OPTICAL_CARD_READER",
	[0x10] = "BRIDGE_CONTROLLER",
	[0x11] = "OSD",
	[0x12] = "AUTOMATION",
	[0x13] = "SECURITY_MANAGER",
	[0x1e] = "WELL_KNOWN_LUN",
	[0x1f] = "UNKNOWN",
};

const char *lun_device_type_str(uint8_t device_type)
{
	if (device_type < 32 && scsi_devtype_names[device_type])
		return scsi_devtype_names[device_type];
	return "UNKNOWN";
}

/* ------------------------------------------------------------------ */
/* CDB builders                                                       */

static size_t scsi_cdb_start(uint8_t cdb[16], uint8_t opcode, size_t len)
{
	memset(cdb, 0, 16);
	cdb[0] = opcode;
	return len;
}

size_t lun_cdb_test_unit_ready(uint8_t cdb[16])
{
	return scsi_cdb_start(cdb, 0x00, 6);
}

size_t lun_cdb_request_sense(uint8_t cdb[16], uint8_t alloc_len)
{
	size_t n = scsi_cdb_start(cdb, 0x03, 6);

	cdb[4] = alloc_len;
	return n;
}

size_t lun_cdb_inquiry(uint8_t cdb[16], bool evpd, uint8_t page, uint16_t alloc_len)
{
	size_t n = scsi_cdb_start(cdb, 0x12, 6);

	/* A page code with EVPD clear is ILLEGAL REQUEST in SPC-4, so the page
	 * is only sent together with the EVPD bit. */
	if (evpd) {
		cdb[1] = 0x01;
		cdb[2] = page;
	}
	lun_put_be16(cdb + 3, alloc_len);
	return n;
}

size_t lun_cdb_report_luns(uint8_t cdb[16], uint32_t alloc_len)
{
	size_t n = scsi_cdb_start(cdb, 0xa0, 12);

	/* SELECT REPORT 00h: the logical units addressable through this nexus. */
	lun_put_be32(cdb + 6, alloc_len);
	return n;
}

size_t lun_cdb_read_capacity10(uint8_t cdb[16])
{
	return scsi_cdb_start(cdb, 0x25, 10);
}

size_t lun_cdb_read_capacity16(uint8_t cdb[16], uint32_t alloc_len)
{
	size_t n = scsi_cdb_start(cdb, 0x9e, 16);

	cdb[1] = 0x10; /* SERVICE ACTION IN(16) / READ CAPACITY(16) */
	lun_put_be32(cdb + 10, alloc_len);
	return n;
}

/* READ(10), WRITE(10) and SYNCHRONIZE CACHE(10) share one layout. */
static size_t scsi_cdb_rw10(uint8_t cdb[16], uint8_t opcode, uint32_t lba, uint16_t blocks)
{
	size_t n = scsi_cdb_start(cdb, opcode, 10);

	lun_put_be32(cdb + 2, lba);
	lun_put_be16(cdb + 7, blocks);
	return n;
}

/* READ(16), WRITE(16) and WRITE SAME(16) share one layout. */
static size_t scsi_cdb_rw16(uint8_t cdb[16], uint8_t opcode, uint64_t lba, uint32_t blocks)
{
	size_t n = scsi_cdb_start(cdb, opcode, 16);

	lun_put_be64(cdb + 2, lba);
	lun_put_be32(cdb + 10, blocks);
	return n;
}

size_t lun_cdb_read10(uint8_t cdb[16], uint32_t lba, uint16_t blocks)
{
	return scsi_cdb_rw10(cdb, 0x28, lba, blocks);
}

size_t lun_cdb_write10(uint8_t cdb[16], uint32_t lba, uint16_t blocks)
{
	return scsi_cdb_rw10(cdb, 0x2a, lba, blocks);
}

size_t lun_cdb_synchronize_cache10(uint8_t cdb[16], uint32_t lba, uint16_t blocks)
{
	return scsi_cdb_rw10(cdb, 0x35, lba, blocks);
}

size_t lun_cdb_read16(uint8_t cdb[16], uint64_t lba, uint32_t blocks)
{
	return scsi_cdb_rw16(cdb, 0x88, lba, blocks);
}

size_t lun_cdb_write16(uint8_t cdb[16], uint64_t lba, uint32_t blocks)
{
	return scsi_cdb_rw16(cdb, 0x8a, lba, blocks);
}

size_t lun_cdb_write_same16(uint8_t cdb[16], uint64_t lba, uint32_t blocks, bool unmap)
{
	size_t n = scsi_cdb_rw16(cdb, 0x93, lba, blocks);

	if (unmap)
		cdb[1] = 0x08;
	return n;
}

size_t lun_cdb_unmap(uint8_t cdb[16], uint16_t param_len)
{
	size_t n = scsi_cdb_start(cdb, 0x42, 10);

	lun_put_be16(cdb + 7, param_len);
	return n;
}

size_t lun_cdb_report_target_port_groups(uint8_t cdb[16], uint32_t alloc_len)
{
	size_t n = scsi_cdb_start(cdb, 0xa3, 12);

	cdb[1] = 0x0a; /* MAINTENANCE IN / REPORT TARGET PORT GROUPS, length-only format */
	lun_put_be32(cdb + 6, alloc_len);
	return n;
}

size_t lun_unmap_param_build(uint8_t out[24], uint64_t lba, uint32_t blocks)
{
	memset(out, 0, 24);
	/* Both lengths count the bytes after their own field. */
	lun_put_be16(out, 22);
	lun_put_be16(out + 2, 16);
	lun_put_be64(out + 8, lba);
	lun_put_be32(out + 16, blocks);
	return 24;
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                       */

/*
 * Copy a space-padded ASCII field, dropping padding (spaces and the NULs some
 * targets use) at both ends when asked, and replacing bytes that are not
 * printable ASCII so that a target cannot put escape sequences on our
 * terminal.  Returns the length written, or -1 when it does not fit.
 */
static int scsi_copy_ascii(char *out, size_t cap, const uint8_t *p, size_t n, bool trim_lead)
{
	size_t i;

	while (n && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	while (trim_lead && n && (p[0] == ' ' || p[0] == '\0')) {
		p++;
		n--;
	}
	if (n >= cap)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[n] = '\0';
	return (int)n;
}

/* Uppercase hex of n bytes, truncated to what cap holds. */
static void scsi_hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	if (!cap)
		return;
	for (i = 0; i < n && 2 * i + 2 < cap; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * i] = '\0';
}

/* ------------------------------------------------------------------ */
/* INQUIRY                                                            */

int lun_parse_inquiry(const uint8_t *buf, size_t len, struct lun_inquiry *out, char *err,
		      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* SPC-4 requires at least 36 bytes of standard data; we always ask for
	 * more, so anything shorter cannot hold vendor, product and revision. */
	if (len < 36) {
		lun_seterr(err, errlen, "standard INQUIRY data is %zu bytes, need at least 36.",
			   len);
		return -1;
	}
	if (buf[4] < 31) {
		lun_seterr(err, errlen, "standard INQUIRY additional length %u is below 31.",
			   buf[4]);
		return -1;
	}
	out->qualifier = buf[0] >> 5;
	out->device_type = buf[0] & 0x1f;
	out->removable = (buf[1] & 0x80) != 0;
	out->version = buf[2];
	scsi_copy_ascii(out->vendor, sizeof(out->vendor), buf + 8, 8, false);
	scsi_copy_ascii(out->product, sizeof(out->product), buf + 16, 16, false);
	scsi_copy_ascii(out->revision, sizeof(out->revision), buf + 32, 4, false);
	return 0;
}

/*
 * Common VPD header check.  Returns the end of the page inside buf: the
 * smaller of what the page claims and what arrived, since SPC-4 lets the
 * allocation length cut a page short.  *cut says whether that happened.
 */
static int scsi_vpd_header(const uint8_t *buf, size_t len, uint8_t page, size_t *end, bool *cut,
			   char *err, size_t errlen)
{
	size_t full;

	if (len < 4) {
		lun_seterr(err, errlen, "VPD page 0x%02x is %zu bytes, shorter than its header.",
			   page, len);
		return -1;
	}
	if (buf[1] != page) {
		lun_seterr(err, errlen, "expected VPD page 0x%02x, got page 0x%02x.", page, buf[1]);
		return -1;
	}
	full = 4 + (size_t)lun_get_be16(buf + 2);
	*cut = full > len;
	*end = *cut ? len : full;
	return 0;
}

int lun_parse_vpd_supported(const uint8_t *buf, size_t len, struct lun_vpd_pages *out, char *err,
			    size_t errlen)
{
	size_t end, i;
	bool cut;

	memset(out, 0, sizeof(*out));
	if (scsi_vpd_header(buf, len, 0x00, &end, &cut, err, errlen))
		return -1;
	/* A cut list simply lacks its last entries: keep what arrived. */
	for (i = 4; i < end && out->count < sizeof(out->pages); i++)
		out->pages[out->count++] = buf[i];
	return 0;
}

int lun_parse_vpd_serial(const uint8_t *buf, size_t len, char *out, size_t cap, char *err,
			 size_t errlen)
{
	size_t end;
	bool cut;

	if (cap)
		out[0] = '\0';
	if (scsi_vpd_header(buf, len, 0x80, &end, &cut, err, errlen))
		return -1;
	/* Half a serial number would identify the wrong unit: refuse it. */
	if (cut) {
		lun_seterr(err, errlen, "unit serial number page truncated at %zu of %u bytes.",
			   len, 4u + lun_get_be16(buf + 2));
		return -1;
	}
	if (scsi_copy_ascii(out, cap, buf + 4, end - 4, true) < 0) {
		lun_seterr(err, errlen, "unit serial number of %zu bytes does not fit in %zu.",
			   end - 4, cap);
		if (cap)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* VPD 0x83                                                           */

static void scsi_desig_decode(const uint8_t *p, struct lun_designator *d)
{
	d->protocol_id = p[0] >> 4;
	d->code_set = p[0] & 0x0f;
	d->piv = (p[1] & 0x80) != 0;
	d->association = (p[1] >> 4) & 0x03;
	d->type = p[1] & 0x0f;
	d->len = p[3];
	memcpy(d->value, p + 4, p[3]);
}

int lun_parse_vpd_ids(const uint8_t *buf, size_t len, struct lun_vpd_ids *out, char *err,
		      size_t errlen)
{
	size_t end, off;
	bool cut;

	memset(out, 0, sizeof(*out));
	if (scsi_vpd_header(buf, len, 0x83, &end, &cut, err, errlen))
		return -1;
	for (off = 4; off < end; off += 4 + (size_t)buf[off + 3]) {
		if (off + 4 > end || off + 4 + buf[off + 3] > end) {
			/* Cut by the allocation length: the complete designators
			 * before this one stand.  Otherwise the designator lengths
			 * contradict the page length. */
			if (cut)
				break;
			lun_seterr(err, errlen,
				   "designator at offset %zu overruns the %zu-byte VPD 0x83 page.",
				   off, end);
			return -1;
		}
		if (out->count < LUN_VPD83_MAX)
			scsi_desig_decode(buf + off, &out->d[out->count++]);
	}
	return 0;
}

/* Preference among NAA formats: registered extended (6), registered (5),
 * IEEE extended (2), locally assigned (3), then anything else. */
static int scsi_naa_rank(const struct lun_designator *d)
{
	static const int rank[16] = { [6] = 5, [5] = 4, [2] = 3, [3] = 2 };
	int r;

	if (d->len < 8 || d->code_set != 1)
		return 0;
	r = rank[d->value[0] >> 4];
	return r ? r : 1;
}

static const struct lun_designator *scsi_pick_id(const struct lun_vpd_ids *ids)
{
	const struct lun_designator *best = NULL, *eui = NULL, *t10 = NULL;
	int best_rank = 0;
	size_t i;

	for (i = 0; i < ids->count && i < LUN_VPD83_MAX; i++) {
		const struct lun_designator *d = &ids->d[i];

		if (d->association != 0 || d->len == 0)
			continue;
		if (d->type == LUN_DESIG_NAA && scsi_naa_rank(d) > best_rank) {
			best = d;
			best_rank = scsi_naa_rank(d);
		} else if (d->type == LUN_DESIG_EUI64 && d->code_set == 1 && d->len >= 8 && !eui) {
			eui = d;
		} else if (d->type == LUN_DESIG_T10 && !t10) {
			t10 = d;
		}
	}
	if (best)
		return best;
	return eui ? eui : t10;
}

int lun_vpd_ids_identifier(const struct lun_vpd_ids *ids, char *out, size_t cap)
{
	const struct lun_designator *d = scsi_pick_id(ids);

	if (cap)
		out[0] = '\0';
	if (!d)
		return -1;
	scsi_hex(out, cap, d->value, d->len);
	return d->type;
}

static const char *scsi_desig_prefix(uint8_t type)
{
	static const char *const names[] = {
		[LUN_DESIG_VENDOR] = "VENDOR",	     [LUN_DESIG_T10] = "T10",
		[LUN_DESIG_EUI64] = "EUI64",	     [LUN_DESIG_NAA] = "NAA",
		[LUN_DESIG_RELATIVE_PORT] = "RELPORT", [LUN_DESIG_TPG] = "TPG",
		[LUN_DESIG_LU_GROUP] = "LUGROUP",    [LUN_DESIG_MD5] = "MD5",
		[LUN_DESIG_SCSI_NAME] = "NAME",	     [LUN_DESIG_PROTOCOL_PORT] = "PROTOPORT",
		[LUN_DESIG_UUID] = "UUID",
	};

	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "TYPE?";
}

void lun_designator_str(const struct lun_designator *d, char *out, size_t cap)
{
	int n;

	if (!cap)
		return;
	n = snprintf(out, cap, "%s:", scsi_desig_prefix(d->type));
	if (n < 0 || (size_t)n >= cap)
		return;
	/* Port and group numbers are 16-bit values in the last two of four
	 * bytes (SPC-4 7.8.6.6-7.8.6.8); printing them in decimal is how
	 * targets' own tools show them. */
	if ((d->type == LUN_DESIG_RELATIVE_PORT || d->type == LUN_DESIG_TPG ||
	     d->type == LUN_DESIG_LU_GROUP) &&
	    d->len == 4) {
		snprintf(out + n, cap - (size_t)n, "%u", lun_get_be16(d->value + 2));
	} else if (d->code_set == 2 || d->code_set == 3) {
		if (scsi_copy_ascii(out + n, cap - (size_t)n, d->value, d->len, false) < 0)
			scsi_copy_ascii(out + n, cap - (size_t)n, d->value, cap - (size_t)n - 1,
					false);
	} else {
		scsi_hex(out + n, cap - (size_t)n, d->value, d->len);
	}
}

/* ------------------------------------------------------------------ */
/* VPD 0xB0, READ CAPACITY                                            */

/* Read a field only when the page (possibly cut short) holds all of it;
 * absent fields stay zero, which the structure defines as "not reported". */
static uint32_t scsi_be32_at(const uint8_t *buf, size_t end, size_t off)
{
	return off + 4 <= end ? lun_get_be32(buf + off) : 0;
}

int lun_parse_vpd_block_limits(const uint8_t *buf, size_t len, struct lun_vpd_block_limits *out,
			       char *err, size_t errlen)
{
	size_t end;
	bool cut;

	memset(out, 0, sizeof(*out));
	if (scsi_vpd_header(buf, len, 0xb0, &end, &cut, err, errlen))
		return -1;
	/* SBC-2 targets return only the first 16 bytes; later fields then
	 * read as "not reported", as they also do when the page was cut. */
	if (end >= 8)
		out->opt_xfer_granularity = lun_get_be16(buf + 6);
	out->max_xfer_len = scsi_be32_at(buf, end, 8);
	out->opt_xfer_len = scsi_be32_at(buf, end, 12);
	out->max_unmap_lba_count = scsi_be32_at(buf, end, 20);
	out->max_unmap_desc_count = scsi_be32_at(buf, end, 24);
	out->unmap_granularity = scsi_be32_at(buf, end, 28);
	if (end >= 44)
		out->max_write_same_len = lun_get_be64(buf + 36);
	return 0;
}

static int scsi_capacity_check(struct lun_capacity *out, char *err, size_t errlen)
{
	if (out->block_size == 0) {
		lun_seterr(err, errlen, "READ CAPACITY reports a block size of 0.");
		return -1;
	}
	if (out->last_lba == UINT64_MAX) {
		lun_seterr(err, errlen, "READ CAPACITY reports an impossible last LBA.");
		return -1;
	}
	out->blocks = out->last_lba + 1;
	return 0;
}

int lun_parse_read_capacity10(const uint8_t *buf, size_t len, struct lun_capacity *out, char *err,
			      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len < 8) {
		lun_seterr(err, errlen, "READ CAPACITY(10) data is %zu bytes, need 8.", len);
		return -1;
	}
	/* 0xffffffff means "use READ CAPACITY(16)"; it is passed on as is. */
	out->last_lba = lun_get_be32(buf);
	out->block_size = lun_get_be32(buf + 4);
	return scsi_capacity_check(out, err, errlen);
}

int lun_parse_read_capacity16(const uint8_t *buf, size_t len, struct lun_capacity *out, char *err,
			      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* The full answer is 32 bytes, but an allocation length of 12 is legal
	 * and still carries the capacity; LBPME needs byte 14. */
	if (len < 12) {
		lun_seterr(err, errlen, "READ CAPACITY(16) data is %zu bytes, need at least 12.",
			   len);
		return -1;
	}
	out->last_lba = lun_get_be64(buf);
	out->block_size = lun_get_be32(buf + 8);
	out->thin = len > 14 && (buf[14] & 0x80);
	return scsi_capacity_check(out, err, errlen);
}

/* ------------------------------------------------------------------ */
/* REPORT LUNS                                                        */

/* Decode one 8-byte LUN entry; -1 for addressing we do not use. */
static int scsi_lun_decode(const uint8_t *e)
{
	size_t i;

	/* Bytes 2-7 carry lower levels of a hierarchical address; a LUN that
	 * uses them cannot be named by a single number. */
	for (i = 2; i < 8; i++)
		if (e[i])
			return -1;
	switch (e[0] >> 6) {
	case 0: /* peripheral device addressing: only bus 0 is a plain LUN */
		return (e[0] & 0x3f) ? -1 : e[1];
	case 1: /* flat space addressing */
		return (e[0] & 0x3f) << 8 | e[1];
	default:
		return -1;
	}
}

int lun_parse_report_luns(const uint8_t *buf, size_t len, uint16_t *luns, size_t cap,
			  size_t *total, char *err, size_t errlen)
{
	uint32_t list_len;
	size_t avail, i;
	int stored = 0;

	*total = 0;
	if (len < 8) {
		lun_seterr(err, errlen, "REPORT LUNS data is %zu bytes, shorter than its header.",
			   len);
		return -1;
	}
	list_len = lun_get_be32(buf);
	if (list_len % 8) {
		lun_seterr(err, errlen, "REPORT LUNS list length %u is not a multiple of 8.",
			   list_len);
		return -1;
	}
	*total = list_len / 8;
	/* The list may be cut by our allocation length; the caller sees
	 * *total and asks again with a bigger buffer. */
	avail = (len - 8) / 8;
	if (avail > *total)
		avail = *total;
	for (i = 0; i < avail && (size_t)stored < cap && stored < INT32_MAX; i++) {
		int lun = scsi_lun_decode(buf + 8 + 8 * i);

		if (lun >= 0)
			luns[stored++] = (uint16_t)lun;
	}
	return stored;
}

uint64_t lun_scsi_lun_encode(uint16_t lun)
{
	/* Numbers above 16383 do not fit flat addressing; they are masked to
	 * 14 bits (the URL parser already refuses them). */
	uint16_t first = lun < 256 ? lun : (uint16_t)(0x4000 | (lun & 0x3fff));

	return (uint64_t)first << 48;
}

/* ------------------------------------------------------------------ */
/* Sense data                                                         */

static const char *const scsi_sense_keys[16] = {
	"NO SENSE",	    "RECOVERED ERROR", "NOT READY",	  "MEDIUM ERROR",
	"HARDWARE ERROR",   "ILLEGAL REQUEST", "UNIT ATTENTION",  "DATA PROTECT",
	"BLANK CHECK",	    "VENDOR SPECIFIC", "COPY ABORTED",	  "ABORTED COMMAND",
	"RESERVED",	    "VOLUME OVERFLOW", "MISCOMPARE",	  "COMPLETED",
};

const char *lun_sense_key_str(uint8_t key)
{
	return key < 16 ? scsi_sense_keys[key] : "unknown sense key";
}

/* Fixed format (SPC-4 4.5.3). */
static int scsi_sense_fixed(const uint8_t *buf, size_t end, struct lun_sense *out)
{
	out->key = buf[2] & 0x0f;
	if (buf[0] & 0x80) {
		out->info_valid = true;
		out->info = lun_get_be32(buf + 3);
	}
	/* ASC/ASCQ are optional when the additional length stops short. */
	if (end >= 14) {
		out->asc = buf[12];
		out->ascq = buf[13];
	}
	return 0;
}

/* Descriptor format (SPC-4 4.5.2); only the information descriptor (type 0)
 * carries something we use. */
static int scsi_sense_desc(const uint8_t *buf, size_t end, bool cut, struct lun_sense *out,
			   char *err, size_t errlen)
{
	size_t off;

	out->key = buf[1] & 0x0f;
	out->asc = buf[2];
	out->ascq = buf[3];
	for (off = 8; off < end; off += 2 + (size_t)buf[off + 1]) {
		if (off + 2 > end || off + 2 + buf[off + 1] > end) {
			if (cut)
				break;
			lun_seterr(err, errlen, "sense descriptor at offset %zu overruns the data.",
				   off);
			return -1;
		}
		if (buf[off] == 0x00 && buf[off + 1] >= 0x0a) {
			out->info_valid = (buf[off + 2] & 0x80) != 0;
			out->info = lun_get_be64(buf + off + 4);
		}
	}
	return 0;
}

int lun_parse_sense(const uint8_t *buf, size_t len, struct lun_sense *out, char *err,
		    size_t errlen)
{
	uint8_t code;
	size_t end;
	bool cut;

	memset(out, 0, sizeof(*out));
	if (len < 8) {
		lun_seterr(err, errlen, "sense data is %zu bytes, shorter than its 8-byte header.",
			   len);
		return -1;
	}
	code = buf[0] & 0x7f;
	if (code < 0x70 || code > 0x73) {
		lun_seterr(err, errlen, "sense response code 0x%02x is not supported.", code);
		return -1;
	}
	end = 8 + (size_t)buf[7];
	cut = end > len;
	if (cut)
		end = len;
	out->descriptor = code >= 0x72;
	out->deferred = code == 0x71 || code == 0x73;
	if (out->descriptor ? scsi_sense_desc(buf, end, cut, out, err, errlen)
			    : scsi_sense_fixed(buf, end, out)) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->valid = true;
	return 0;
}

struct scsi_asc_entry {
	uint16_t code; /* ASC << 8 | ASCQ */
	const char *text;
};

/* The codes an iSCSI initiator meets in practice (SPC-4 annex D). */
static const struct scsi_asc_entry scsi_asc_table[] = {
	{ 0x0000, "NO ADDITIONAL SENSE INFORMATION" },
	{ 0x0006, "I/O PROCESS TERMINATED" },
	{ 0x0016, "OPERATION IN PROGRESS" },
	{ 0x0300, "PERIPHERAL DEVICE WRITE FAULT" },
	{ 0x0400, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE" },
	{ 0x0401, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY" },
	{ 0x0402, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED" },
	{ 0x0403, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED" },
	{ 0x0404, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS" },
	{ 0x0405, "LOGICAL UNIT NOT READY, REBUILD IN PROGRESS" },
	{ 0x0406, "LOGICAL UNIT NOT READY, RECALCULATION IN PROGRESS" },
	{ 0x0407, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS" },
	{ 0x0408, "LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS" },
	{ 0x0409, "LOGICAL UNIT NOT READY, SELF-TEST IN PROGRESS" },
	{ 0x040a, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION" },
	{ 0x040b, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE" },
	{ 0x040c, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE" },
	{ 0x0410, "LOGICAL UNIT NOT READY, AUXILIARY MEMORY NOT ACCESSIBLE" },
	{ 0x0411, "LOGICAL UNIT NOT READY, NOTIFY (ENABLE SPINUP) REQUIRED" },
	{ 0x0500, "LOGICAL UNIT DOES NOT RESPOND TO SELECTION" },
	{ 0x0800, "LOGICAL UNIT COMMUNICATION FAILURE" },
	{ 0x0801, "LOGICAL UNIT COMMUNICATION TIME-OUT" },
	{ 0x0802, "LOGICAL UNIT COMMUNICATION PARITY ERROR" },
	{ 0x0803, "LOGICAL UNIT COMMUNICATION CRC ERROR (ULTRA-DMA/32)" },
	{ 0x0c00, "WRITE ERROR" },
	{ 0x0c02, "WRITE ERROR - AUTO REALLOCATION FAILED" },
	{ 0x0c03, "WRITE ERROR - RECOMMEND REASSIGNMENT" },
	{ 0x0c0c, "WRITE ERROR - UNEXPECTED UNSOLICITED DATA" },
	{ 0x0c0d, "WRITE ERROR - NOT ENOUGH UNSOLICITED DATA" },
	{ 0x0e00, "INVALID INFORMATION UNIT" },
	{ 0x0e01, "INFORMATION UNIT TOO SHORT" },
	{ 0x0e02, "INFORMATION UNIT TOO LONG" },
	{ 0x0e03, "INVALID FIELD IN COMMAND INFORMATION UNIT" },
	{ 0x1000, "ID CRC OR ECC ERROR" },
	{ 0x1001, "LOGICAL BLOCK GUARD CHECK FAILED" },
	{ 0x1002, "LOGICAL BLOCK APPLICATION TAG CHECK FAILED" },
	{ 0x1003, "LOGICAL BLOCK REFERENCE TAG CHECK FAILED" },
	{ 0x1100, "UNRECOVERED READ ERROR" },
	{ 0x1101, "READ RETRIES EXHAUSTED" },
	{ 0x1102, "ERROR TOO LONG TO CORRECT" },
	{ 0x1104, "UNRECOVERED READ ERROR - AUTO REALLOCATE FAILED" },
	{ 0x110b, "UNRECOVERED READ ERROR - RECOMMEND REASSIGNMENT" },
	{ 0x110c, "UNRECOVERED READ ERROR - RECOMMEND REWRITE THE DATA" },
	{ 0x1113, "READ ERROR - FAILED RETRANSMISSION REQUEST" },
	{ 0x1401, "RECORD NOT FOUND" },
	{ 0x1500, "RANDOM POSITIONING ERROR" },
	{ 0x1a00, "PARAMETER LIST LENGTH ERROR" },
	{ 0x1b00, "SYNCHRONOUS DATA TRANSFER ERROR" },
	{ 0x1d00, "MISCOMPARE DURING VERIFY OPERATION" },
	{ 0x2000, "INVALID COMMAND OPERATION CODE" },
	{ 0x2002, "ACCESS DENIED - NO ACCESS RIGHTS" },
	{ 0x2100, "LOGICAL BLOCK ADDRESS OUT OF RANGE" },
	{ 0x2101, "INVALID ELEMENT ADDRESS" },
	{ 0x2400, "INVALID FIELD IN CDB" },
	{ 0x2500, "LOGICAL UNIT NOT SUPPORTED" },
	{ 0x2600, "INVALID FIELD IN PARAMETER LIST" },
	{ 0x2601, "PARAMETER NOT SUPPORTED" },
	{ 0x2602, "PARAMETER VALUE INVALID" },
	{ 0x2603, "THRESHOLD PARAMETERS NOT SUPPORTED" },
	{ 0x2604, "INVALID RELEASE OF PERSISTENT RESERVATION" },
	{ 0x2700, "WRITE PROTECTED" },
	{ 0x2701, "HARDWARE WRITE PROTECTED" },
	{ 0x2702, "LOGICAL UNIT SOFTWARE WRITE PROTECTED" },
	{ 0x2707, "SPACE ALLOCATION FAILED WRITE PROTECT" },
	{ 0x2800, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED" },
	{ 0x2900, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED" },
	{ 0x2901, "POWER ON OCCURRED" },
	{ 0x2902, "SCSI BUS RESET OCCURRED" },
	{ 0x2903, "BUS DEVICE RESET FUNCTION OCCURRED" },
	{ 0x2904, "DEVICE INTERNAL RESET" },
	{ 0x2905, "TRANSCEIVER MODE CHANGED TO SINGLE-ENDED" },
	{ 0x2906, "TRANSCEIVER MODE CHANGED TO LVD" },
	{ 0x2907, "I_T NEXUS LOSS OCCURRED" },
	{ 0x2a00, "PARAMETERS CHANGED" },
	{ 0x2a01, "MODE PARAMETERS CHANGED" },
	{ 0x2a02, "LOG PARAMETERS CHANGED" },
	{ 0x2a03, "RESERVATIONS PREEMPTED" },
	{ 0x2a04, "RESERVATIONS RELEASED" },
	{ 0x2a05, "REGISTRATIONS PREEMPTED" },
	{ 0x2a06, "ASYMMETRIC ACCESS STATE CHANGED" },
	{ 0x2a07, "IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED" },
	{ 0x2a09, "CAPACITY DATA HAS CHANGED" },
	{ 0x2c00, "COMMAND SEQUENCE ERROR" },
	{ 0x2f00, "COMMANDS CLEARED BY ANOTHER INITIATOR" },
	{ 0x2f01, "COMMANDS CLEARED BY POWER LOSS NOTIFICATION" },
	{ 0x2f02, "COMMANDS CLEARED BY DEVICE SERVER" },
	{ 0x3000, "INCOMPATIBLE MEDIUM INSTALLED" },
	{ 0x3100, "MEDIUM FORMAT CORRUPTED" },
	{ 0x3200, "NO DEFECT SPARE LOCATION AVAILABLE" },
	{ 0x3700, "ROUNDED PARAMETER" },
	{ 0x3807, "THIN PROVISIONING SOFT THRESHOLD REACHED" },
	{ 0x3900, "SAVING PARAMETERS NOT SUPPORTED" },
	{ 0x3a00, "MEDIUM NOT PRESENT" },
	{ 0x3a01, "MEDIUM NOT PRESENT - TRAY CLOSED" },
	{ 0x3a02, "MEDIUM NOT PRESENT - TRAY OPEN" },
	{ 0x3e00, "LOGICAL UNIT HAS NOT SELF-CONFIGURED YET" },
	{ 0x3e01, "LOGICAL UNIT FAILURE" },
	{ 0x3e02, "TIMEOUT ON LOGICAL UNIT" },
	{ 0x3e03, "LOGICAL UNIT FAILED SELF-TEST" },
	{ 0x3f00, "TARGET OPERATING CONDITIONS HAVE CHANGED" },
	{ 0x3f01, "MICROCODE HAS BEEN CHANGED" },
	{ 0x3f02, "CHANGED OPERATING DEFINITION" },
	{ 0x3f03, "INQUIRY DATA HAS CHANGED" },
	{ 0x3f04, "COMPONENT DEVICE ATTACHED" },
	{ 0x3f05, "DEVICE IDENTIFIER CHANGED" },
	{ 0x3f0e, "REPORTED LUNS DATA HAS CHANGED" },
	{ 0x3f12, "ISCSI IP ADDRESS ADDED" },
	{ 0x3f13, "ISCSI IP ADDRESS REMOVED" },
	{ 0x3f14, "ISCSI IP ADDRESS CHANGED" },
	{ 0x4300, "MESSAGE ERROR" },
	{ 0x4400, "INTERNAL TARGET FAILURE" },
	{ 0x4401, "PERSISTENT RESERVATION INFORMATION LOST" },
	{ 0x4500, "SELECT OR RESELECT FAILURE" },
	{ 0x4700, "SCSI PARITY ERROR" },
	{ 0x4701, "DATA PHASE CRC ERROR DETECTED" },
	{ 0x4703, "INFORMATION UNIT iuCRC ERROR DETECTED" },
	{ 0x4705, "PROTOCOL SERVICE CRC ERROR" },
	{ 0x477f, "SOME COMMANDS CLEARED BY ISCSI PROTOCOL EVENT" },
	{ 0x4800, "INITIATOR DETECTED ERROR MESSAGE RECEIVED" },
	{ 0x4900, "INVALID MESSAGE ERROR" },
	{ 0x4a00, "COMMAND PHASE ERROR" },
	{ 0x4b00, "DATA PHASE ERROR" },
	{ 0x4b01, "INVALID TARGET PORT TRANSFER TAG RECEIVED" },
	{ 0x4b02, "TOO MUCH WRITE DATA" },
	{ 0x4b03, "ACK/NAK TIMEOUT" },
	{ 0x4b04, "NAK RECEIVED" },
	{ 0x4b05, "DATA OFFSET ERROR" },
	{ 0x4b06, "INITIATOR RESPONSE TIMEOUT" },
	{ 0x4b07, "CONNECTION LOST" },
	{ 0x4c00, "LOGICAL UNIT FAILED SELF-CONFIGURATION" },
	{ 0x4e00, "OVERLAPPED COMMANDS ATTEMPTED" },
	{ 0x5302, "MEDIUM REMOVAL PREVENTED" },
	{ 0x5500, "SYSTEM RESOURCE FAILURE" },
	{ 0x5503, "INSUFFICIENT RESOURCES" },
	{ 0x5504, "INSUFFICIENT REGISTRATION RESOURCES" },
	{ 0x5d00, "FAILURE PREDICTION THRESHOLD EXCEEDED" },
	{ 0x5dff, "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)" },
	{ 0x5e00, "LOW POWER CONDITION ON" },
	{ 0x6800, "LOGICAL UNIT NOT CONFIGURED" },
};

const char *lun_asc_str(uint8_t asc, uint8_t ascq)
{
	/* The table is sorted, so a binary search keeps lookups cheap even on
	 * the error path of a busy queue. */
	size_t lo = 0, hi = sizeof(scsi_asc_table) / sizeof(scsi_asc_table[0]);
	uint16_t code = (uint16_t)(asc << 8 | ascq);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (scsi_asc_table[mid].code == code)
			return scsi_asc_table[mid].text;
		if (scsi_asc_table[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void lun_sense_str(const struct lun_sense *s, char *out, size_t cap)
{
	const char *text;

	if (!cap)
		return;
	if (!s->valid) {
		lun_strlcpy(out, "no sense data", cap);
		return;
	}
	text = lun_asc_str(s->asc, s->ascq);
	if (text)
		snprintf(out, cap, "%s: %s (0x%02x/0x%02x)", lun_sense_key_str(s->key), text,
			 s->asc, s->ascq);
	else
		snprintf(out, cap, "%s: ASC/ASCQ 0x%02x/0x%02x", lun_sense_key_str(s->key), s->asc,
			 s->ascq);
}

int lun_iscsi_sense_split(const uint8_t *buf, size_t len, const uint8_t **sense,
			  size_t *sense_len, char *err, size_t errlen)
{
	size_t sl;

	*sense = NULL;
	*sense_len = 0;
	if (len < 2) {
		lun_seterr(err, errlen, "SCSI Response data of %zu bytes has no SenseLength.", len);
		return -1;
	}
	sl = lun_get_be16(buf);
	/* Bytes after the sense are iSCSI response data and are ignored. */
	if (sl > len - 2) {
		lun_seterr(err, errlen, "SenseLength %zu exceeds the %zu bytes that follow it.", sl,
			   len - 2);
		return -1;
	}
	*sense = buf + 2;
	*sense_len = sl;
	return 0;
}
