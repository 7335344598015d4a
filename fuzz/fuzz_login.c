/*
 * fuzz_login.c - login response handling: a sequence of Login Responses
 * (48-byte BHS + data segment) fed to the login driver of a session that is
 * in_login, with or without CHAP, as the receive engine would deliver them.
 *
 * Input: byte 0 selects the configuration (bit 0 CHAP, bit 1 mutual, bit 2
 * discovery, bits 3-4 digest preferences), then records of
 * [BHS 48 bytes][data length 2 bytes, big-endian][data].  ITT and ISID are
 * forced to the session's values so that the fuzzer reaches the key
 * handling instead of stopping at the first identity check.
 */
#include <stdint.h>
#include <string.h>

#include "sess.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_sess *s;
	uint8_t cfg;

	if (size < 1)
		return 0;
	cfg = data[0];
	data++;
	size--;
	s = (struct lun_sess *)lunaris_session_new("iqn.2024-01.test:fuzz");
	if (!s)
		return 0;
	s->offline = true; /* a redirect must never reach a real address */
	if (!(cfg & 4))
		lunaris_set_target((lunaris_session *)s, "iqn.2024-01.test:target");
	if (cfg & 1)
		lunaris_set_chap((lunaris_session *)s, "user", "secret-123456", 13);
	if (cfg & 2)
		lunaris_set_target_chap((lunaris_session *)s, "tuser", "tsecret-12345", 13);
	lunaris_set_digests((lunaris_session *)s, (cfg >> 3) & 1 ? LUNARIS_DIGEST_CRC32C : 0,
			    (cfg >> 4) & 1 ? LUNARIS_DIGEST_CRC32C_ONLY : 0);
	/* in_login without a socket: what is sent just waits in the queue */
	s->cstate = LUN_CONN_IN_LOGIN;
	lun_login_start(s);

	while (size >= LUN_BHS_LEN + 2 && s->cstate == LUN_CONN_IN_LOGIN) {
		uint8_t bhs[LUN_BHS_LEN];
		struct lun_pdu p;
		size_t dlen;

		memcpy(bhs, data, LUN_BHS_LEN);
		dlen = lun_get_be16(data + LUN_BHS_LEN);
		data += LUN_BHS_LEN + 2;
		size -= LUN_BHS_LEN + 2;
		if (dlen > size)
			dlen = size;
		bhs[0] = LUN_OP_LOGIN_RSP;
		lun_put_be24(bhs + 5, (uint32_t)dlen);
		memcpy(bhs + 8, s->isid, 6);
		lun_put_be32(bhs + 16, s->login_itt);
		if (lun_pdu_decode(bhs, LUN_FROM_TARGET, &p, NULL, 0) == 0) {
			memcpy(s->rx_data, data, dlen);
			lun_login_rx(s, &p, s->rx_data, dlen);
		}
		data += dlen;
		size -= dlen;
		/* drop what the driver queued, as if the socket took it */
		s->txq_head = s->txq_tail = NULL;
		s->ctl_tx.queued = false;
	}
	lunaris_session_free((lunaris_session *)s);
	return 0;
}
