/*
 * log.c - lunarisd logging: stderr in the foreground (-f), syslog otherwise.
 * Callers never pass secrets; the handlers log what changed, not values of
 * secret keys.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "daemon.h"

static bool log_foreground;
static int log_max = LOG_DEBUG;

void lund_log_set_level(int max_prio)
{
	log_max = max_prio;
}

void lund_log_init(bool foreground)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("lunarisd", LOG_PID, LOG_DAEMON);
}

void lund_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	if (log_foreground) {
		static const char *const names[] = { "emerg", "alert", "crit", "error",
						     "warning", "notice", "info", "debug" };

		fprintf(stderr, "lunarisd: %s: ", names[prio & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}
