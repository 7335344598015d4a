/*
 * login.c - floor 3: the login phase (RFC 7143 sections 6.3 and 11.12-13).
 *
 * The login is a conversation of Login Request/Response pairs that walks
 * through the stages security (CSG 0) -> operational (CSG 1) -> full
 * feature (3).  lun_login_start() sends the first request when the
 * connection enters in_login (T1); lun_login_rx() takes each response and
 * either sends the next request or ends the login with T5 (success), T7
 * (transport-class failure, may be retried) or T30 (final failure).
 *
 * Who owns what: identity keys (InitiatorName, TargetName, SessionType) and
 * AuthMethod are here; CHAP_* belong to chap.c; operational keys to text.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"
#include "util.h"

#define LOGIN_MAX_REDIRECTS 4

const char *lun_login_status_str(uint8_t cls, uint8_t detail)
{
	switch (cls << 8 | detail) {
	case 0x0000: return "login successful";
	case 0x0101: return "target moved temporarily (redirect)";
	case 0x0102: return "target moved permanently (redirect)";
	case 0x0200: return "initiator error: the target refused the login";
	case 0x0201: return "authentication failure: the CHAP name or secret was not accepted";
	case 0x0202: return "authorization failure: this initiator may not access the target";
	case 0x0203: return "target not found: no such target name on this portal";
	case 0x0204: return "target removed: the target no longer exists";
	case 0x0205: return "unsupported iSCSI version";
	case 0x0206: return "too many connections on this session";
	case 0x0207: return "missing parameter: a required key was not sent";
	case 0x0208: return "cannot include this connection in the session";
	case 0x0209: return "session type not supported by the target";
	case 0x020a: return "session does not exist (bad TSIH)";
	case 0x020b: return "request not valid during login";
	case 0x0300: return "target error: the target could not complete the login";
	case 0x0301: return "service unavailable: the target is not accepting logins now";
	case 0x0302: return "out of resources: the target cannot take another session";
	}
	switch (cls) {
	case 1: return "redirected (unknown detail)";
	case 2: return "initiator error (unknown detail)";
	case 3: return "target error (unknown detail)";
	}
	return "unknown login status class";
}

/* Queue one Login Request carrying s->login_out. */
static int login_send(struct lun_sess *s, bool transit, uint8_t nsg)
{
	struct lun_pdu p = { .opcode = LUN_OP_LOGIN_REQ, .immediate = true };
	size_t len = lun_kvlist_encoded_len(&s->login_out);

	if (len > LUN_CTL_DATA_MAX || (len && !lun_kvlist_encode(&s->login_out, s->ctl_data,
								 LUN_CTL_DATA_MAX))) {
		lun_seterr(s->err, sizeof(s->err), "login keys do not fit in one PDU");
		return -1;
	}
	p.u.login_req.transit = transit;
	p.u.login_req.csg = s->login_stage;
	p.u.login_req.nsg = transit ? nsg : 0;
	memcpy(p.u.login_req.isid, s->isid, 6);
	p.u.login_req.tsih = s->tsih;
	p.u.login_req.itt = s->login_itt;
	p.u.login_req.cid = 0;
	p.u.login_req.cmdsn = s->cmdsn;
	p.u.login_req.expstatsn = s->exp_statsn;
	lun_kvlist_clear(&s->login_out);
	return lun_send_ctl(s, &p, (uint32_t)len);
}

/* Operational stage: offer our keys once, then answer what the target asks. */
static int login_send_operational(struct lun_sess *s)
{
	s->login_stage = LUN_STAGE_OPERATIONAL;
	if (lun_nego_offer(&s->nego, &s->login_out) < 0) {
		lun_seterr(s->err, sizeof(s->err), "out of memory building login keys");
		return -1;
	}
	return login_send(s, true, LUN_STAGE_FULL_FEATURE);
}

int lun_login_start(struct lun_sess *s)
{
	lun_kvlist_clear(&s->login_out);
	lun_chap_init(&s->chap);
	lun_nego_init(&s->nego, &s->want, s->header_pref, s->data_pref, !s->target[0]);
	lun_params_defaults(&s->params);
	s->login_sec_done = false;
	s->login_stage = LUN_STAGE_SECURITY;
	s->login_itt = lun_sess_ctl_itt(s, LUN_ITT_LOGIN);
	s->login_fail_counted = false;
	/* Every login of ours leads a new session: TSIH 0.  With the ISID
	 * unchanged, that is session reinstatement (RFC 7143 6.3.5): the
	 * target closes what is left of the old session. */
	s->tsih = 0;
	s->login_accum_len = 0;
	s->exp_statsn = 0;
	s->rx_data_cap = 8192; /* RFC default until we declare ours in FFP */
	s->hdigest = s->ddigest = false;
	s->login_deadline_ns = lun_now_ns() + (uint64_t)s->login_timeout_s * 1000000000u;

	lun_kvlist_add(&s->login_out, "InitiatorName", s->initiator);
	if (s->target[0]) {
		lun_kvlist_add(&s->login_out, "SessionType", "Normal");
		lun_kvlist_add(&s->login_out, "TargetName", s->target);
	} else {
		lun_kvlist_add(&s->login_out, "SessionType", "Discovery");
	}
	if (!s->chap_enabled) {
		lun_kvlist_add(&s->login_out, "AuthMethod", "None");
		return login_send(s, true, LUN_STAGE_OPERATIONAL);
	}
	/* With mutual CHAP the admin asked the target to prove itself, so a
	 * target that wants no authentication must not be accepted. */
	lun_kvlist_add(&s->login_out, "AuthMethod", s->chap_cfg.mutual ? "CHAP" : "CHAP,None");
	return login_send(s, false, 0);
}

/* A sentence for a failure during CHAP that names the algorithm: the one
 * the target chose, or else the ones we offered. */
static void login_auth_error(struct lun_sess *s, const char *status, uint8_t cls, uint8_t det)
{
	char algs[96] = "";
	bool sha256 = s->chap.alg == LUN_CHAP_SHA256;

	if (s->chap.alg) {
		snprintf(algs, sizeof(algs), "CHAP_A=%d, %s", s->chap.alg,
			 lun_chap_alg_name(s->chap.alg));
	} else {
		size_t n = (size_t)snprintf(algs, sizeof(algs), "offered CHAP_A");

		for (int i = 0; i < s->chap_cfg.nalgs && n < sizeof(algs); i++) {
			n += (size_t)snprintf(algs + n, sizeof(algs) - n, "%s%d (%s)", i ? ", " : " ",
					      s->chap_cfg.algs[i],
					      lun_chap_alg_name(s->chap_cfg.algs[i]));
			sha256 |= s->chap_cfg.algs[i] == LUN_CHAP_SHA256;
		}
	}
	lun_seterr(s->err, sizeof(s->err), "login to %s at %s failed during CHAP: %s (0x%02x/0x%02x; %s)%s",
		   s->target_label, s->portal, status, cls, det, algs,
		   sha256 ? "; some targets (tgtd) implement CHAP_A=7 as SHA-1, "
			    "try --chap-algorithms md5"
			  : "");
}

static void login_redirect(struct lun_sess *s, const struct lun_kvlist *keys)
{
	const char *addr = lun_kvlist_get(keys, "TargetAddress");
	char host[256], err[160], why[LUN_CAUSE_MAX];
	uint16_t port, tpgt;
	bool has_tpgt;

	if (!addr || lun_parse_target_address(addr, host, sizeof(host), &port, &tpgt, &has_tpgt,
					      err, sizeof(err)) < 0) {
		lun_conn_fail(s, LUN_T30, "login to %s redirected without a usable TargetAddress",
			      s->target_label);
		return;
	}
	if (++s->redirects > LOGIN_MAX_REDIRECTS) {
		lun_conn_fail(s, LUN_T30, "too many login redirects (last to %s)", addr);
		return;
	}
	snprintf(why, sizeof(why), "redirected to %s", addr);
	lun_conn_event(s, LUN_T7, why);
	lun_strlcpy(s->host, host, sizeof(s->host));
	s->port = port;
	snprintf(s->portal, sizeof(s->portal), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		 port);
	lun_conn_event(s, LUN_T1, why);
}

/* Finish: the response had T=1 and NSG=3. */
static int login_complete(struct lun_sess *s, const struct lun_pdu_login_rsp *r)
{
	char why[LUN_CAUSE_MAX];

	s->tsih = r->tsih;
	if (s->tsih == 0) {
		lun_conn_fail(s, LUN_T30, "login to %s ended without a TSIH", s->target_label);
		return -1;
	}
	/* Our MaxRecvDataSegmentLength is declarative: it holds once we sent
	 * it in the operational stage; without that stage the default does. */
	if (s->login_stage == LUN_STAGE_OPERATIONAL)
		s->params.max_recv_dsl = s->want.max_recv_dsl;
	s->exp_cmdsn = r->expcmdsn;
	s->max_cmdsn = r->maxcmdsn;
	s->hdigest = s->params.header_digest == LUN_DIGEST_CRC32C;
	s->ddigest = s->params.data_digest == LUN_DIGEST_CRC32C;
	s->rx_data_cap = s->params.max_recv_dsl;
	snprintf(why, sizeof(why), "login accepted%s", s->cause[0] ? "; " : "");
	lun_strlcpy(why + strlen(why), s->cause, sizeof(why) - strlen(why));
	lun_conn_event(s, LUN_T5, why);
	return 0;
}

/* Process the keys of a complete (non-continued) successful response. */
static int login_keys(struct lun_sess *s, const struct lun_pdu_login_rsp *r,
		      const struct lun_kvlist *keys)
{
	char err[256];

	if (r->csg == LUN_STAGE_SECURITY) {
		const char *am = lun_kvlist_get(keys, "AuthMethod");

		/* Targets send TargetPortalGroupTag and TargetAlias in their first
		 * response, in the security stage; nego records them and skips
		 * the security keys. */
		if (lun_nego_receive(&s->nego, keys, &s->params, &s->login_out, err,
				     sizeof(err)) < 0) {
			lun_conn_fail(s, LUN_T30, "login to %s: %s", s->target_label, err);
			return -1;
		}

		if (s->chap.state == LUN_CHAP_START) {
			if (!am && !r->transit) {
				lun_conn_fail(s, LUN_T30, "target %s did not answer AuthMethod",
					      s->target_label);
				return -1;
			}
			if (am && !strcmp(am, "None")) {
				if (s->chap_enabled && s->chap_cfg.mutual) {
					lun_conn_fail(s, LUN_T30,
						      "target %s refuses CHAP, but mutual CHAP was "
						      "requested",
						      s->target_label);
					return -1;
				}
				s->login_sec_done = true;
			} else if (am && !strcmp(am, "CHAP") && s->chap_enabled) {
				if (lun_chap_step(&s->chap, &s->chap_cfg, NULL, &s->login_out, err,
						  sizeof(err)) < 0) {
					lun_conn_fail(s, LUN_T30, "CHAP: %s", err);
					return -1;
				}
				return login_send(s, false, 0);
			} else if (am) {
				lun_conn_fail(s, LUN_T30, "target %s chose AuthMethod=%s, not offered",
					      s->target_label, am);
				return -1;
			}
		} else if (s->chap.state != LUN_CHAP_DONE) {
			int rc = lun_chap_step(&s->chap, &s->chap_cfg, keys, &s->login_out, err,
					       sizeof(err));
			if (rc < 0) {
				lun_conn_fail(s, LUN_T30, "CHAP with %s (CHAP_A=%d, %s): %s",
					      s->target_label, s->chap.alg,
					      lun_chap_alg_name(s->chap.alg), err);
				return -1;
			}
			if (rc == LUN_CHAP_COMPLETE) {
				s->login_sec_done = true;
			} else {
				/* CHAP_R goes out with T=1: we are done with
				 * security once the target accepts it. */
				return login_send(s, s->chap.state == LUN_CHAP_SENT_R,
						  LUN_STAGE_OPERATIONAL);
			}
		}
		if (!r->transit) {
			/* Target wants to stay in security: send an empty request. */
			return login_send(s, true, LUN_STAGE_OPERATIONAL);
		}
		if (r->nsg == LUN_STAGE_FULL_FEATURE) {
			/* Straight to FFP: legal, operational defaults apply. */
			return login_complete(s, r);
		}
		return login_send_operational(s);
	}

	/* operational stage */
	if (lun_nego_receive(&s->nego, keys, &s->params, &s->login_out, err, sizeof(err)) < 0) {
		s->stats.login_fail_negotiation++;
		s->login_fail_counted = true;
		lun_conn_fail(s, LUN_T30, "negotiation with %s failed: %s", s->target_label, err);
		return -1;
	}
	if (r->transit && r->nsg == LUN_STAGE_FULL_FEATURE)
		return login_complete(s, r);
	return login_send(s, true, LUN_STAGE_FULL_FEATURE);
}

int lun_login_rx(struct lun_sess *s, const struct lun_pdu *p, const uint8_t *data, size_t len)
{
	const struct lun_pdu_login_rsp *r = &p->u.login_rsp;
	struct lun_kvlist keys;
	char err[256];
	int rc;

	/* A refusal may come with ISID 0 (tgtd does this): the ITT alone
	 * identifies it, and its status is what the user needs to see. */
	if (r->itt != s->login_itt ||
	    (r->status_class == 0 && memcmp(r->isid, s->isid, 6))) {
		lun_conn_fail(s, LUN_T7, "Login Response for another login (ITT or ISID differ)");
		return -1;
	}
	if (r->version_active != 0) {
		lun_conn_fail(s, LUN_T30, "target speaks iSCSI version %u, not 0",
			      r->version_active);
		return -1;
	}
	s->exp_statsn = r->statsn + 1;
	lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);

	/* Join a response split over several PDUs (C bit) before parsing. */
	if (s->login_accum_len + len > LUN_CTL_DATA_MAX) {
		lun_conn_fail(s, LUN_T30, "login response from %s is too large", s->target_label);
		return -1;
	}
	if (!s->login_accum) {
		s->login_accum = malloc(LUN_CTL_DATA_MAX);
		if (!s->login_accum) {
			lun_conn_fail(s, LUN_T7, "out of memory");
			return -1;
		}
	}
	memcpy(s->login_accum + s->login_accum_len, data, len);
	s->login_accum_len += len;
	if (r->cont) {
		/* Ask for the rest with an empty request in the same stage. */
		if (login_send(s, false, 0) < 0) {
			lun_conn_event(s, LUN_T7, s->err);
			return -1;
		}
		return 0;
	}

	lun_kvlist_init(&keys);
	if (lun_kvlist_parse(&keys, s->login_accum, s->login_accum_len, err, sizeof(err)) < 0) {
		lun_kvlist_free(&keys);
		lun_conn_fail(s, LUN_T30, "malformed login response from %s: %s",
			      s->target_label, err);
		return -1;
	}
	s->login_accum_len = 0;

	if (r->status_class != 0) {
		const char *st = lun_login_status_str(r->status_class, r->status_detail);

		s->login_fail_counted = r->status_class != 1;
		if (r->status_class == 3)
			s->stats.login_fail_target++;
		else if (r->status_class == 2 && (r->status_detail == 1 || r->status_detail == 2))
			s->stats.login_fail_auth++;
		else if (r->status_class == 2)
			s->stats.login_fail_initiator++;

		if (r->status_class == 1) {
			login_redirect(s, &keys);
		} else {
			if (r->status_class == 2 && s->chap_enabled &&
			    s->login_stage == LUN_STAGE_SECURITY)
				login_auth_error(s, st, r->status_class, r->status_detail);
			else if (r->status_class == 2 && r->status_detail == 1)
				lun_seterr(s->err, sizeof(s->err),
					   "login to %s at %s failed: %s (0x02/0x01)%s",
					   s->target_label, s->portal, st,
					   s->chap_enabled ? "" : "; no CHAP credentials were given");
			else
				lun_seterr(s->err, sizeof(s->err),
					   "login to %s at %s failed: %s (0x%02x/0x%02x)",
					   s->target_label, s->portal, st, r->status_class,
					   r->status_detail);
			/* Initiator-class errors will fail again: no retry (T30).
			 * Target-class errors may pass later (T7). */
			lun_conn_event(s, r->status_class == 3 ? LUN_T7 : LUN_T30, s->err);
		}
		lun_kvlist_free(&keys);
		return -1;
	}
	if (lun_now_ns() > s->login_deadline_ns) {
		lun_kvlist_free(&keys);
		lun_conn_fail(s, LUN_T7, "login to %s timed out", s->target_label);
		return -1;
	}
	rc = login_keys(s, r, &keys);
	lun_kvlist_free(&keys);
	if (rc < 0 && s->cstate == LUN_CONN_IN_LOGIN)
		lun_conn_event(s, LUN_T7, s->err);
	return rc;
}
