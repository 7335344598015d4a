/*
 * fuzz_text.c - lun_kvlist_parse on arbitrary bytes, then lun_nego_receive of
 * the parsed keys against a negotiation that offered every key, and
 * lun_parse_target_address on every value.  The first byte picks the digest
 * preferences and the session type so all offer sets are covered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_text_roundtrip(const struct lun_kvlist *l)
{
	size_t n = lun_kvlist_encoded_len(l);
	uint8_t *buf = malloc(n ? n : 1);
	struct lun_kvlist again;

	if (!buf)
		return;
	if (lun_kvlist_encode(l, buf, n) != n)
		abort();
	lun_kvlist_init(&again);
	if (lun_kvlist_parse(&again, buf, n, NULL, 0) || again.count != l->count)
		abort();
	lun_kvlist_free(&again);
	free(buf);
}

static void fuzz_text_addresses(const struct lun_kvlist *l)
{
	for (size_t i = 0; i < l->count; i++) {
		char host[64], err[128];
		uint16_t port, tpgt;
		bool has;

		if (lun_parse_target_address(l->items[i].value, host, sizeof(host), &port, &tpgt,
					     &has, err, sizeof(err)) == 0 &&
		    (port == 0 || !host[0]))
			abort();
	}
}

static void fuzz_text_nego(uint8_t sel, const struct lun_kvlist *in)
{
	struct lun_params want, res;
	struct lun_kvlist out, reply;
	struct lun_nego n;
	char err[256];

	lun_params_defaults(&want);
	want.max_recv_dsl = 262144;
	want.initial_r2t = sel & 0x10;
	want.immediate_data = sel & 0x20;
	lun_nego_init(&n, &want, sel % 3, (sel / 3) % 3, sel & 0x80);
	lun_kvlist_init(&out);
	lun_kvlist_init(&reply);
	lun_nego_offer(&n, &out);
	lun_params_defaults(&res);
	if (lun_nego_receive(&n, in, &res, &reply, err, sizeof(err)) == 0) {
		if (res.first_burst > res.max_burst || res.max_send_dsl < 512 || res.erl > 2)
			abort();
		(void)lun_nego_complete(&n);
		/* a second response with the same keys must not crash either */
		lun_nego_receive(&n, in, &res, &reply, err, sizeof(err));
	}
	lun_kvlist_free(&out);
	lun_kvlist_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_kvlist l;
	char err[256];

	if (size < 1)
		return 0;
	lun_kvlist_init(&l);
	if (lun_kvlist_parse(&l, data + 1, size - 1, err, sizeof(err)) == 0) {
		fuzz_text_roundtrip(&l);
		fuzz_text_addresses(&l);
		fuzz_text_nego(data[0], &l);
	} else if (l.count != 0) {
		abort();
	}
	lun_kvlist_free(&l);
	return 0;
}
