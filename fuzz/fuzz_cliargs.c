/*
 * fuzz_cliargs.c - the admin grammar (admin_build_request) over arbitrary
 * argument vectors: the input split at NUL bytes is argv, argv[0] being the
 * subcommand.
 *
 * Beyond "no crash": a parse either fails with a message or yields requests
 * that the daemon's rules accept in shape: op and object strings, an args
 * object, ports in 1..65535, TPGTs in 0..65535, iSCSI names that pass the
 * validator again, and nothing that could hold a CHAP secret (secrets never
 * come from argv).  Needs cli/admin.c cli/discovery.c cli/node.c, not
 * main.c nor any I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "names.h"

#define FZ_MAX_ARGS 64

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static void fz_check_range(const json_t *args, const char *key, json_int_t lo, json_int_t hi)
{
	const json_t *v = json_object_get(args, key);

	if (v)
		fz_check(json_is_integer(v) && json_integer_value(v) >= lo &&
			 json_integer_value(v) <= hi);
}

static void fz_check_req(const json_t *req)
{
	const json_t *args = json_object_get(req, "args");
	const char *name;

	fz_check(admin_is_subcommand(json_string_value(json_object_get(req, "op"))));
	fz_check(json_is_string(json_object_get(req, "object")));
	fz_check(json_is_object(args));
	fz_check(!json_object_get(args, "chap-secret"));
	fz_check_range(args, "port", 1, 65535);
	fz_check_range(args, "tpgt", 0, 65535);
	fz_check_range(args, "configured-sessions", 1, 4);
	if ((name = json_string_value(json_object_get(args, "target"))) != NULL)
		fz_check(lun_iscsi_name_valid(name, NULL, 0));
	if ((name = json_string_value(json_object_get(args, "node-name"))) != NULL)
		fz_check(lun_iscsi_name_valid(name, NULL, 0));
	if (json_object_get(args, "address"))
		fz_check(json_string_length(json_object_get(args, "address")) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[FZ_MAX_ARGS + 1];
	struct admin_cmd c;
	char err[512];
	int argc = 0;
	size_t i, start = 0;
	json_t *req;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && argc < FZ_MAX_ARGS; i++) {
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	err[0] = '\0';
	if (admin_build_request(argc, argv, &c, err, sizeof(err)) == 0) {
		fz_check(c.usage != NULL);
		if (!c.help) {
			fz_check(json_array_size(c.reqs) >= 1);
			json_array_foreach(c.reqs, i, req)
				fz_check_req(req);
			fz_check(c.secret_src == ADMIN_SECRET_NONE ||
				 json_array_size(c.reqs) == 1);
		}
		admin_cmd_free(&c);
	} else {
		fz_check(strlen(err) > 0);
		fz_check(c.reqs == NULL && c.filter == NULL);
	}
	free(buf);
	return 0;
}
