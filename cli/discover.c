/*
 * discover.c - `lunaris discover HOST[:PORT]`: one SendTargets discovery
 * session (login, SendTargets=All, logout), one line per target portal:
 *     <iqn> <address>:<port>,<tpgt>
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_portal(const char *name, const struct lunaris_portal *p)
{
	if (strchr(p->host, ':'))
		printf("%s [%s]:%u,%u\n", name, p->host, p->port, p->tpgt);
	else
		printf("%s %s:%u,%u\n", name, p->host, p->port, p->tpgt);
}

int cmd_discover(const struct cli_opts *o, int argc, char **argv)
{
	struct lunaris_target_list list;
	lunaris_session *s;
	int rc;

	if (argc != 1) {
		cli_err("usage: lunaris discover [--json] HOST[:PORT]");
		return EXIT_USAGE;
	}
	s = cli_login_discovery(o, argv[0], &rc);
	if (!s)
		return rc;
	if (lunaris_sendtargets_sync(s, &list) < 0) {
		cli_err("SendTargets failed: %s", lunaris_get_error(s));
		lunaris_session_free(s);
		return EXIT_CONN;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < list.count; i++) {
			json_t *portals = json_array();

			for (size_t j = 0; j < list.targets[i].nportals; j++) {
				const struct lunaris_portal *p = &list.targets[i].portals[j];

				json_array_append_new(portals, json_pack("{s:s,s:i,s:i}", "address",
									 p->host, "port", p->port,
									 "tpgt", p->tpgt));
			}
			json_array_append_new(arr, json_pack("{s:s,s:o}", "target",
							     list.targets[i].name, "portals",
							     portals));
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
	} else {
		for (size_t i = 0; i < list.count; i++) {
			const struct lunaris_target *t = &list.targets[i];

			if (!t->nportals)
				printf("%s -\n", t->name);
			for (size_t j = 0; j < t->nportals; j++)
				print_portal(t->name, &t->portals[j]);
		}
	}
	lunaris_target_list_free(&list);
	cli_logout(o, s);
	return EXIT_OK;
}
