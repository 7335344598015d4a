/*
 * fuzz_sendtargets.c - lun_sendtargets_parse on arbitrary bytes, checking
 * the invariants the discovery code relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sendtargets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_st_check(const struct lun_st_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct lun_st_target *t = &l->targets[i];
		size_t nl = strnlen(t->name, sizeof(t->name));

		if (nl == 0 || nl >= sizeof(t->name))
			abort();
		for (size_t j = 0; j < t->nportals; j++)
			if (t->portals[j].port == 0 || !t->portals[j].host[0])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lun_st_list l;
	char err[256];

	if (lun_sendtargets_parse(data, size, &l, err, sizeof(err)) == 0)
		fuzz_st_check(&l);
	else if (l.count || l.targets)
		abort();
	lun_st_list_free(&l);
	return 0;
}
