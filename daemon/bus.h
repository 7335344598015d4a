/*
 * bus.h - floor 5, internal to bus configuration (busconfig.c, busscan.c,
 * buslist.c) and to lu.c, whose paths are these sessions: the session table
 * and its types.  The rest of the daemon uses daemon.h's lund_bus_*.
 */
#ifndef LUNARIS_BUS_H
#define LUNARIS_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon.h"

#define LUND_BUS_MAX_SESS 128
#define LUND_BUS_MAX_LUNS 64
#define LUND_BUS_MAX_WAIT 64
#define LUND_BUS_MAX_NEG 256
#define LUND_BUS_MAX_PORTALS 64
#define LUND_BUS_MAX_TPGS 8 /* target port groups kept per LUN */
#define LUND_BUS_PORTAL_INFLIGHT 2 /* logins in progress per portal */
#define LUND_BUS_TUR_S 5 /* idle sessions look for unit attentions this often */
#define LUND_BUS_NEG_FIRST_S 10
#define LUND_BUS_NEG_MAX_S 900
#define NS 1000000000ull

struct bus_lun {
	uint16_t lun;
	uint8_t type;
	char vendor[9], product[17], revision[5];
	uint64_t blocks;
	uint32_t block_size;
	char ident[80]; /* uppercase hex, "" when the LU has none */
	/* ALUA (mpx/alua.h): TPGS of INQUIRY, this path's port from VPD 0x83
	 * (lun_luid_port) and the target port group states of REPORT TARGET
	 * PORT GROUPS; alua_known only when the report names this path's
	 * group, and then alua_state/alua_pref are that group's */
	int8_t tpgs; /* -1: INQUIRY not seen */
	bool has_tpg, has_rel_port;
	uint16_t tpg, rel_port;
	bool alua_known, alua_pref;
	uint8_t alua_state;
	uint8_t ngroups;
	struct bus_tpg {
		uint16_t id;
		uint8_t state;
		bool pref;
	} groups[LUND_BUS_MAX_TPGS];
};

enum bs_state {
	BS_WAIT, /* login due at next_ns */
	BS_LOGIN,
	BS_SCAN,
	BS_UP,
	BS_LOGOUT, /* then freed */
};

extern const char *const bus_state_names[]; /* by enum bs_state */

enum scan_step {
	SC_NONE,
	SC_REPORT_LUNS,
	SC_INQUIRY,
	SC_VPD83,
	SC_RTPG, /* REPORT TARGET PORT GROUPS, extended format asked */
	SC_RTPG_PLAIN, /* the same, length-only, after a rejection of the former */
	SC_CAP16,
	SC_CAP10,
	SC_TUR,
};

struct bsess {
	bool used;
	char target[224];
	char host[256];
	uint16_t port;
	int tpgt;
	unsigned idx; /* 0 .. configured-sessions - 1 */
	unsigned method; /* LUN_DISC_* that made it */
	char source[300]; /* "static", "sendtargets H:P", "isns H:P" */
	lunaris_session *s;
	enum bs_state state;
	char conn_state[16]; /* from the last trace event */
	char cause[LUN_CAUSE_MAX_D];
	char last_error[512];
	uint64_t next_ns; /* BS_WAIT: next login; BS_UP: next TEST UNIT READY */
	unsigned failures; /* consecutive failed logins */
	uint64_t logins;
	time_t up_since;
	/* LUN scan, one command at a time */
	enum scan_step step;
	bool cmd_busy, cmd_done, rescan;
	struct lunaris_scsi_result res;
	uint8_t buf[4096];
	uint16_t lunlist[LUND_BUS_MAX_LUNS];
	size_t nlunlist, scan_i;
	struct bus_lun scan[LUND_BUS_MAX_LUNS];
	struct bus_lun luns[LUND_BUS_MAX_LUNS];
	size_t nluns;
	bool scanned;
	/* ALUA refresh (a state change was reported): REPORT TARGET PORT
	 * GROUPS again for the scanned LUNs, the session staying up */
	bool alua_rescan, alua_refresh;
};

/* A name that discovery did not find. */
struct bus_neg {
	bool used;
	char target[224];
	uint64_t until_ns;
	unsigned backoff_s;
	unsigned hits; /* requests answered from this entry */
	time_t since;
};

/* Login counters per portal ("logins are limited per portal"). */
struct bus_portal {
	bool used;
	char host[256];
	uint16_t port;
	unsigned inflight;
	uint64_t logins, failures;
	time_t last_login;
};

extern struct bsess bus_sess[LUND_BUS_MAX_SESS];
extern struct bus_neg bus_negs[LUND_BUS_MAX_NEG];
extern struct bus_portal bus_portals[LUND_BUS_MAX_PORTALS];

/* A (target, portal) that an enabled discovery method knows. */
struct bus_ref {
	const char *target;
	const char *host;
	uint16_t port;
	int tpgt;
	unsigned method;
	const char *source;
};

typedef void (*bus_ref_cb)(const struct bus_ref *r, void *arg);

/* Every (target, portal) that an enabled method knows (busconfig.c). */
void bus_collect(struct lund *d, bus_ref_cb cb, void *arg);
/* A line in the daemon's history (printf-like). */
void bus_history(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Static", "SendTargets", "iSNS" */
const char *bus_method_name(unsigned method);

/* busscan.c: the LUN scan of a session, one command at a time. */
void bus_scan_start(struct bsess *b);
/* Send the scan's current command (when none is in flight). */
void bus_scan_issue(struct bsess *b);
/* The command completed: take its result and choose the next step. */
void bus_scan_next(struct lund *d, struct bsess *b);
/* An ALUA state change was reported: REPORT TARGET PORT GROUPS again for
 * the session's LUNs (state stays BS_UP; lund_lu_alua_done() at the end). */
void bus_alua_start(struct bsess *b);

/* lu.c: the logical units learn of their paths from here. */
void lund_lu_scan_done(struct bsess *b);
void lund_lu_session_gone(const struct bsess *b);
void lund_lu_alua_done(struct bsess *b);

/* buslist.c: the listings. */
void bus_list_target(struct lund *d, const json_t *args, struct lund_reply *rep);
void bus_list_negative(struct lund_reply *rep);
void bus_list_portals(struct lund_reply *rep);

#endif
