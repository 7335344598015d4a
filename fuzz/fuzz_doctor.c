/*
 * fuzz_doctor.c - the analysis of `lunaris doctor` (doctor_analyze and
 * doctor_print) over arbitrary JSON in place of the daemon's replies.
 *
 * Beyond "no crash": whatever the replies hold, the report has the shape
 * doctor.h promises (a boolean "healthy", findings with a known severity, a
 * kind, a summary and arrays of strings), "healthy" is true exactly when no
 * finding is an error or a warning, and the exit code agrees with it.  The
 * seed corpus (fuzz/corpus/doctor) is real replies of lunarisd: healthy, a
 * stale name opened ten times with storm protection off, a CHAP mismatch and
 * a failing discovery address.
 * Needs cli/doctor.c only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static void fz_strings(const json_t *a)
{
	const json_t *v;
	size_t i;

	fz_check(json_is_array(a));
	json_array_foreach(a, i, v)
		fz_check(json_is_string(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	json_t *in = json_loadb((const char *)data, size, 0, NULL), *rep;
	const json_t *f;
	size_t i;
	int serious = 0;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	rep = doctor_analyze(in, 1700000000);
	fz_check(rep != NULL);
	fz_check(json_is_boolean(json_object_get(rep, "healthy")));
	fz_check(json_is_array(json_object_get(rep, "findings")));
	json_array_foreach(json_object_get(rep, "findings"), i, f) {
		const char *sev = json_string_value(json_object_get(f, "severity"));

		fz_check(sev && (!strcmp(sev, "error") || !strcmp(sev, "warning") ||
				 !strcmp(sev, "note")));
		serious += strcmp(sev, "note") != 0;
		fz_check(json_is_string(json_object_get(f, "kind")));
		fz_check(json_is_string(json_object_get(f, "summary")));
		fz_strings(json_object_get(f, "evidence"));
		fz_strings(json_object_get(f, "fix"));
	}
	fz_check(json_is_true(json_object_get(rep, "healthy")) == (serious == 0));
	fz_check(doctor_exit_code(rep) == (serious ? 1 : 0));
	if (devnull)
		doctor_print(rep, devnull);
	json_decref(rep);
	json_decref(in);
	return 0;
}
