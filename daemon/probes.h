/*
 * probes.h - floor 5: lunarisd's USDT probes (provider "lunarisd"), for
 * bpftrace and systemtap; docs/probes.md lists them with their arguments,
 * tools/bpftrace/ has the scripts that use them.  The connection and
 * session state machines fire liblunaris's own probes (provider
 * "lunaris", conn__event and sess__event) from lib/trace.c.
 *
 * Each probe is a nop in the code until a tracer attaches; the strings are
 * the daemon's own (never a secret).
 */
#ifndef LUNARIS_PROBES_H
#define LUNARIS_PROBES_H

#include <sys/sdt.h>

/* A normal session starts a login: target, "host:port", cause chain. */
#define LUND_PROBE_LOGIN(target, portal, cause) \
	STAP_PROBE3(lunarisd, login, target, portal, cause)
/* A discovery run starts: method ("sendtargets", "isns"), "host:port", cause. */
#define LUND_PROBE_DISCOVERY(method, source, cause) \
	STAP_PROBE3(lunarisd, discovery, method, source, cause)
/* config_one asked for a target: target, who asked ("open by pid N (dd)"). */
#define LUND_PROBE_CONFIG_ONE(target, who) STAP_PROBE2(lunarisd, config__one, target, who)
/* An export looks a name up in the device cache and opens it: name, state
 * ("online", "offline", "unknown"), who ("nbd by pid N (qemu-img)"). */
#define LUND_PROBE_DEVCACHE_OPEN(name, state, who) \
	STAP_PROBE3(lunarisd, devcache__open, name, state, who)

#endif
