/*
 * sendtargets.c - floor 2: parse a SendTargets=All Text Response into a list
 * of targets, each with its portals.  The key list is parsed by text.c; this
 * file only gives the TargetName / TargetAddress sequence its structure.
 */
#include "sendtargets.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void lun_st_list_free(struct lun_st_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->targets[i].portals);
	free(l->targets);
	l->targets = NULL;
	l->count = 0;
}

static struct lun_st_target *st_find(struct lun_st_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->targets[i].name, name) == 0)
			return &l->targets[i];
	return NULL;
}

/* A name seen again continues that target (its portals are merged), so the
 * list holds every name once. */
static struct lun_st_target *st_add_target(struct lun_st_list *l, const char *name, char *err,
					   size_t errlen)
{
	struct lun_st_target *t = st_find(l, name), *n;
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(t->name)) {
		lun_seterr(err, errlen, "TargetName of %zu bytes (must be 1..%zu)", len,
			   sizeof(t->name) - 1);
		return NULL;
	}
	if (t)
		return t;
	n = realloc(l->targets, (l->count + 1) * sizeof(*n));
	if (!n) {
		lun_seterr(err, errlen, "out of memory parsing SendTargets");
		return NULL;
	}
	l->targets = n;
	t = &n[l->count++];
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, len + 1);
	return t;
}

static int st_add_portal(struct lun_st_target *t, const char *addr, char *err, size_t errlen)
{
	struct lun_st_portal p, *n;
	bool has_tpgt;

	if (lun_parse_target_address(addr, p.host, sizeof(p.host), &p.port, &p.tpgt, &has_tpgt,
				     err, errlen))
		return -1;
	if (!has_tpgt) {
		lun_seterr(err, errlen, "TargetAddress \"%.80s\" of %.80s has no portal group tag",
			   addr, t->name);
		return -1;
	}
	n = realloc(t->portals, (t->nportals + 1) * sizeof(*n));
	if (!n) {
		lun_seterr(err, errlen, "out of memory parsing SendTargets");
		return -1;
	}
	t->portals = n;
	n[t->nportals++] = p;
	return 0;
}

static int st_build(const struct lun_kvlist *kv, struct lun_st_list *out, char *err,
		    size_t errlen)
{
	struct lun_st_target *cur = NULL;

	for (size_t i = 0; i < kv->count; i++) {
		const char *k = kv->items[i].key, *v = kv->items[i].value;

		if (strcmp(k, "TargetName") == 0) {
			cur = st_add_target(out, v, err, errlen);
			if (!cur)
				return -1;
		} else if (strcmp(k, "TargetAddress") == 0) {
			if (!cur) {
				lun_seterr(err, errlen, "TargetAddress=%.80s before any TargetName",
					   v);
				return -1;
			}
			if (st_add_portal(cur, v, err, errlen))
				return -1;
		} else {
			lun_seterr(err, errlen, "unexpected key %s=%.80s in a SendTargets response",
				   k, v);
			return -1;
		}
	}
	return 0;
}

int lun_sendtargets_parse(const uint8_t *data, size_t len, struct lun_st_list *out, char *err,
			  size_t errlen)
{
	struct lun_kvlist kv;
	int rc;

	out->count = 0;
	out->targets = NULL;
	lun_kvlist_init(&kv);
	rc = lun_kvlist_parse(&kv, data, len, err, errlen);
	if (rc == 0)
		rc = st_build(&kv, out, err, errlen);
	lun_kvlist_free(&kv);
	if (rc)
		lun_st_list_free(out);
	return rc;
}
