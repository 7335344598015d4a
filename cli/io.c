/*
 * io.c - `lunaris read` and `lunaris write`: move bytes between a file (or
 * stdin/stdout) and a LUN, block aligned, with several commands in flight.
 *
 * Chunks of up to 1 MiB go out in order through a small ring of buffers;
 * reads are written to the output in order as their chunks complete, so the
 * output is a plain byte stream even though commands overlap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "scsi.h"

#define IO_SLOTS 8
#define IO_CHUNK (1024 * 1024)

struct io_slot {
	uint8_t *buf;
	uint32_t len;
	bool busy, done;
	struct lunaris_scsi_result r;
};

struct io_job {
	lunaris_session *s;
	uint16_t lun;
	uint32_t bs;
	bool write;
	struct io_slot slot[IO_SLOTS];
	int fd;
	unsigned head, tail; /* ring of slots in submission order */
};

static void io_done(lunaris_session *s, const struct lunaris_scsi_result *r, void *arg)
{
	struct io_slot *sl = arg;

	sl->r = *r;
	sl->done = true;
}

static int io_submit(struct io_job *j, struct io_slot *sl, uint64_t off)
{
	uint8_t cdb[16];
	size_t n;
	struct iovec v = { sl->buf, sl->len };
	uint64_t lba = off / j->bs;
	uint32_t blocks = sl->len / j->bs;

	n = j->write ? lun_cdb_write16(cdb, lba, blocks) : lun_cdb_read16(cdb, lba, blocks);
	sl->busy = true;
	sl->done = false;
	if (lunaris_scsi_submit(j->s, j->lun, cdb, n, j->write ? LUNARIS_DIR_WRITE : LUNARIS_DIR_READ,
				&v, 1, sl->len, io_done, sl) < 0) {
		cli_err("cannot queue command: %s", lunaris_get_error(j->s));
		return EXIT_CONN;
	}
	return EXIT_OK;
}

/* Wait for the oldest slot; check its status. */
static int io_reap(struct io_job *j, struct io_slot *sl)
{
	char msg[300];

	while (!sl->done) {
		if (lunaris_poll_once(j->s, -1) < 0 && !sl->done) {
			cli_err("%s", lunaris_get_error(j->s));
			return EXIT_CONN;
		}
	}
	sl->busy = false;
	if (sl->r.error != LUNARIS_OK) {
		lunaris_result_str(&sl->r, msg, sizeof(msg));
		cli_err("%s: %s: %s", j->write ? "WRITE" : "READ", msg, lunaris_get_error(j->s));
		return EXIT_CONN;
	}
	if (sl->r.status != 0 || sl->r.response) {
		lunaris_result_str(&sl->r, msg, sizeof(msg));
		cli_err("%s on LUN %u: %s", j->write ? "WRITE(16)" : "READ(16)", j->lun, msg);
		return EXIT_SCSI;
	}
	if (sl->r.underflow && sl->r.residual) {
		cli_err("%s transferred %u bytes less than asked", j->write ? "WRITE" : "READ",
			sl->r.residual);
		return EXIT_SCSI;
	}
	return EXIT_OK;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Fill buf with up to n bytes; returns bytes read (short only at EOF). */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int io_open(const struct cli_opts *o, const char *url, struct io_job *j, uint64_t *blocks)
{
	int rc;

	j->s = cli_login_url(o, url, true, true, &j->lun, &rc);
	if (!j->s)
		return rc;
	rc = cli_capacity(j->s, j->lun, &j->bs, blocks);
	if (rc)
		return rc;
	if (o->offset % j->bs) {
		cli_err("--offset %llu is not a multiple of the %u-byte block size",
			(unsigned long long)o->offset, j->bs);
		return EXIT_USAGE;
	}
	for (int i = 0; i < IO_SLOTS; i++) {
		j->slot[i].buf = aligned_alloc(4096, IO_CHUNK);
		if (!j->slot[i].buf) {
			cli_err("out of memory");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static void io_close(const struct cli_opts *o, struct io_job *j)
{
	/* Commands still in flight complete (or fail) before their buffers go. */
	for (int i = 0; i < IO_SLOTS; i++)
		while (j->s && j->slot[i].busy && !j->slot[i].done &&
		       lunaris_poll_once(j->s, 1000) == 0)
			;
	cli_logout(o, j->s);
	for (int i = 0; i < IO_SLOTS; i++)
		free(j->slot[i].buf);
	if (j->fd > 2)
		close(j->fd);
}

int cmd_read(const struct cli_opts *o, int argc, char **argv)
{
	struct io_job j = { .write = false, .fd = 1 };
	uint64_t blocks, off, end, next;
	int rc;

	if (argc != 1 || !o->have_offset || !o->have_length) {
		cli_err("usage: lunaris read URL --offset BYTES --length BYTES [-o FILE]");
		return EXIT_USAGE;
	}
	rc = io_open(o, argv[0], &j, &blocks);
	if (rc)
		goto out;
	if (o->length % j.bs) {
		cli_err("--length %llu is not a multiple of the %u-byte block size",
			(unsigned long long)o->length, j.bs);
		rc = EXIT_USAGE;
		goto out;
	}
	if (o->offset + o->length > blocks * j.bs) {
		cli_err("bytes %llu..%llu are beyond the end of the LUN (%llu bytes)",
			(unsigned long long)o->offset, (unsigned long long)(o->offset + o->length),
			(unsigned long long)(blocks * j.bs));
		rc = EXIT_USAGE;
		goto out;
	}
	if (o->output && strcmp(o->output, "-")) {
		j.fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (j.fd < 0) {
			cli_err("cannot create %s: %s", o->output, strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
	}
	off = next = o->offset;
	end = o->offset + o->length;
	while (off < end) {
		/* keep the ring full */
		while (next < end && !j.slot[j.tail].busy) {
			struct io_slot *sl = &j.slot[j.tail];

			sl->len = (uint32_t)(end - next < IO_CHUNK ? end - next : IO_CHUNK);
			rc = io_submit(&j, sl, next);
			if (rc)
				goto out;
			next += sl->len;
			j.tail = (j.tail + 1) % IO_SLOTS;
		}
		struct io_slot *sl = &j.slot[j.head];
		rc = io_reap(&j, sl);
		if (rc)
			goto out;
		if (write_all(j.fd, sl->buf, sl->len) < 0) {
			cli_err("write to output failed: %s", strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		off += sl->len;
		j.head = (j.head + 1) % IO_SLOTS;
	}
out:
	io_close(o, &j);
	return rc;
}

int cmd_write(const struct cli_opts *o, int argc, char **argv)
{
	struct io_job j = { .write = true, .fd = 0 };
	uint64_t blocks, next, written = 0;
	bool eof = false;
	int rc;

	if (argc != 1 || !o->have_offset) {
		cli_err("usage: lunaris write URL --offset BYTES [-i FILE]");
		return EXIT_USAGE;
	}
	if (o->input && strcmp(o->input, "-")) {
		j.fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (j.fd < 0) {
			cli_err("cannot open %s: %s", o->input, strerror(errno));
			return EXIT_USAGE;
		}
	}
	rc = io_open(o, argv[0], &j, &blocks);
	if (rc)
		goto out;
	/* A regular file is checked before anything is written, so that bad
	 * input loses nothing. */
	struct stat st;
	if (fstat(j.fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size % j.bs) {
			cli_err("input is %llu bytes, not a multiple of the %u-byte block size",
				(unsigned long long)st.st_size, j.bs);
			rc = EXIT_USAGE;
			goto out;
		}
		if (o->offset + (uint64_t)st.st_size > blocks * j.bs) {
			cli_err("writing %llu bytes at %llu would pass the end of the LUN (%llu bytes)",
				(unsigned long long)st.st_size, (unsigned long long)o->offset,
				(unsigned long long)(blocks * j.bs));
			rc = EXIT_USAGE;
			goto out;
		}
	}
	next = o->offset;
	while (!eof || j.slot[j.head].busy) {
		while (!eof && !j.slot[j.tail].busy) {
			struct io_slot *sl = &j.slot[j.tail];
			ssize_t n = read_full(j.fd, sl->buf, IO_CHUNK);

			if (n < 0) {
				cli_err("read from input failed: %s", strerror(errno));
				rc = EXIT_USAGE;
				goto out;
			}
			if (n < IO_CHUNK)
				eof = true;
			if (n == 0)
				break;
			if ((size_t)n % j.bs) {
				cli_err("input ends with %zu bytes, not a multiple of the %u-byte "
					"block size; %llu bytes were written before it",
					(size_t)n % j.bs, j.bs, (unsigned long long)(next - o->offset));
				rc = EXIT_USAGE;
				goto out;
			}
			if (next + (uint64_t)n > blocks * j.bs) {
				cli_err("input passes the end of the LUN (%llu bytes)",
					(unsigned long long)(blocks * j.bs));
				rc = EXIT_USAGE;
				goto out;
			}
			sl->len = (uint32_t)n;
			rc = io_submit(&j, sl, next);
			if (rc)
				goto out;
			next += (uint64_t)n;
			j.tail = (j.tail + 1) % IO_SLOTS;
		}
		if (!j.slot[j.head].busy)
			break;
		rc = io_reap(&j, &j.slot[j.head]);
		if (rc)
			goto out;
		written += j.slot[j.head].len;
		j.head = (j.head + 1) % IO_SLOTS;
	}
	if (o->verbose)
		fprintf(stderr, "lunaris: wrote %llu bytes\n", (unsigned long long)written);
out:
	io_close(o, &j);
	return rc;
}
