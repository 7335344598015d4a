/*
 * main.c - lunarisd(8): arguments, directories, pid file, signals and the
 * single event loop that serves the control socket.
 *
 *   lunarisd [-f] [--state-dir DIR] [--run-dir DIR] [--control-group GROUP]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"

static struct lund daemon_state = { .listen_fd = -1, .control_gid = (gid_t)-1 };

static void on_signal(int sig)
{
	daemon_state.stop = sig;
}

static int make_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	lund_log(LOG_ERR, "cannot create directory %s: %s", path, strerror(errno));
	return -1;
}

static int write_pidfile(const char *run_dir, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/lunarisd.pid", run_dir);
	f = fopen(path, "w");
	if (!f) {
		lund_log(LOG_ERR, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

static const char usage[] =
	"usage: lunarisd [-f] [--state-dir DIR] [--run-dir DIR] [--control-group GROUP]\n"
	"  -f                 stay in the foreground, log to stderr (default: syslog)\n"
	"  --state-dir DIR    persistent store (default /var/lib/lunaris)\n"
	"  --run-dir DIR      control socket and pid file (default /run/lunaris)\n"
	"  --control-group G  members of G may change the configuration too\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "control-group", required_argument, NULL, 'g' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lund *d = &daemon_state;
	bool fg = false;
	const char *group = NULL;
	char db[4096], pidfile[4096], err[512];
	int c;

	d->state_dir = "/var/lib/lunaris";
	d->run_dir = "/run/lunaris";
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 's': d->state_dir = optarg; break;
		case 'r': d->run_dir = optarg; break;
		case 'g': group = optarg; break;
		case 'f': fg = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 1;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 1;
	}
	lund_log_init(fg);
	if (group) {
		struct group *g = getgrnam(group);

		if (!g) {
			lund_log(LOG_ERR, "no such group: %s", group);
			return 1;
		}
		d->control_gid = g->gr_gid;
	}
	if (make_dir(d->state_dir, 0700) < 0 || make_dir(d->run_dir, 0755) < 0)
		return 1;
	snprintf(db, sizeof(db), "%s/lunaris.db", d->state_dir);
	d->store = lun_store_open(db, err, sizeof(err));
	if (!d->store) {
		lund_log(LOG_ERR, "cannot open the store: %s", err);
		return 1;
	}
	if (lund_control_open(d) < 0) {
		lun_store_close(d->store);
		return 1;
	}
	if (lund_nbd_open(d) < 0) {
		lund_control_close(d);
		lun_store_close(d->store);
		return 1;
	}
	if (!fg && daemon(0, 0) < 0) {
		lund_log(LOG_ERR, "cannot detach: %s", strerror(errno));
		return 1;
	}
	if (write_pidfile(d->run_dir, pidfile, sizeof(pidfile)) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lund_log(LOG_INFO, "lunarisd %s started: store %s, control %s", LUNARISD_VERSION, db,
		 d->control_path);
	if (lun_store_get(d->store, "", "node-name", d->initiator_name, sizeof(d->initiator_name),
			  err, sizeof(err)) != 1)
		d->initiator_name[0] = '\0';
	lund_lu_load_cache(d);
	lund_discovery_all(d, "lunarisd start");
	lund_isns_all(d, "lunarisd start");
	/* static configs log in at once; discovered targets when their
	 * discovery answers */
	lund_bus_config_all(d, "lunarisd start");
	lund_fuse_start(d); /* <run-dir>/dsk; logs why when it cannot */

	while (!d->stop) {
		struct pollfd pfd[424];
		int timeout = 1000;
		int n = lund_control_fill_pollfds(d, pfd, 80);
		int m = lund_discovery_fill_pollfds(pfd + n, 80, &timeout);
		int b = lund_bus_fill_pollfds(pfd + n + m, 128, &timeout);
		int lt = lund_lu_timeout_ms();

		if (lt >= 0 && lt < timeout)
			timeout = lt;
		int s = lund_isns_fill_pollfds(pfd + n + m + b, 64, &timeout);
		int e = lund_nbd_fill_pollfds(pfd + n + m + b + s, 40, &timeout);
		int f = lund_fuse_fill_pollfds(pfd + n + m + b + s + e, 1, &timeout);

		if (poll(pfd, (nfds_t)(n + m + b + s + e + f), timeout) < 0) {
			if (errno == EINTR)
				continue;
			lund_log(LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		lund_control_service(d, pfd, n);
		lund_discovery_service(d, pfd + n, m);
		lund_bus_service(d, pfd + n + m, b);
		lund_lu_service(d);
		lund_isns_service(d, pfd + n + m + b, s);
		/* after lu.c's service: completions of this turn go out now */
		lund_nbd_service(d, pfd + n + m + b + s, e);
		lund_fuse_service(d, pfd + n + m + b + s + e, f);
	}
	lund_log(LOG_INFO, "stopping (signal %d)", d->stop);
	lund_nbd_close();
	lund_fuse_stop();
	lund_lu_shutdown();
	lund_bus_shutdown(d);
	lund_isns_shutdown();
	lund_discovery_shutdown();
	lund_control_close(d);
	lun_store_close(d->store);
	unlink(pidfile);
	return 0;
}
