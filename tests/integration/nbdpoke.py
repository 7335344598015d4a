#!/usr/bin/env python3
"""nbdpoke.py - a small raw NBD client for tests/integration/t_nbd.sh.

The real clients (nbdinfo, nbdcopy, qemu-img) check the export the way
users use it; this one checks what they never send: write zeroes, trim,
FUA, requests the server must refuse (with their structured error
message), many requests in flight answered out of order, simple replies,
and garbage.  Each subcommand prints one line per check and exits 1 on the
first failure.

  nbdpoke.py SOCKET NAME ops BACKING     zeroes, trim, flush, FUA, errors,
                                          in-flight, simple replies
  nbdpoke.py SOCKET NAME abandon BACKING requests in flight, then gone
  nbdpoke.py SOCKET NAME garbage         garbage after the handshake: the
                                          server must close the connection
  nbdpoke.py SOCKET NAME hs-garbage      garbage instead of client flags
  nbdpoke.py SOCKET NAME hs-checks       unknown name, no default export,
                                          unsupported and too-big options
"""
import os
import random
import socket
import struct
import sys
import threading

NBD_MAGIC = 0x4E42444D41474943
OPTS_MAGIC = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCT_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_INFO, OPT_GO, OPT_SR = 1, 2, 3, 6, 7, 8
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
REP_ERR_UNSUP, REP_ERR_UNKNOWN, REP_ERR_TOO_BIG = 0x80000001, 0x80000006, 0x80000009
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_WZ = 0, 1, 2, 3, 4, 6
FLAG_FUA, FLAG_NO_HOLE = 1, 2
T_NONE, T_DATA, T_ERROR = 0, 1, 0x8001
EINVAL, ENOSPC, EOVERFLOW = 22, 28, 75


LAST = "start"  # the last check passed, for a failure that is an exception


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    global LAST
    LAST = msg
    print("ok: " + msg, flush=True)


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)

    def recv(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
            b += c
        return b

    def greet(self, flags=3):
        m, o, f = struct.unpack(">QQH", self.recv(18))
        if m != NBD_MAGIC or o != OPTS_MAGIC:
            fail("bad greeting")
        self.s.sendall(struct.pack(">I", flags))
        return f

    def opt(self, code, data=b""):
        self.s.sendall(struct.pack(">QII", OPTS_MAGIC, code, len(data)) + data)

    def opt_reply(self):
        m, o, t, n = struct.unpack(">QIII", self.recv(20))
        if m != REP_MAGIC:
            fail("bad option reply magic %x" % m)
        return o, t, self.recv(n)

    def opt_until_final(self, code):
        """Replies of one option until ACK or an error; returns (type, list of data)."""
        got = []
        while True:
            o, t, d = self.opt_reply()
            if o != code:
                fail("reply for option %d while %d was asked" % (o, code))
            if t in (REP_SERVER, REP_INFO):
                got.append((t, d))
                continue
            return t, got, d

    def go(self, name, structured=True):
        if structured:
            self.opt(OPT_SR)
            t, _, _ = self.opt_until_final(OPT_SR)
            if t != REP_ACK:
                fail("structured replies refused")
        nb = name.encode()
        self.opt(OPT_GO, struct.pack(">I", len(nb)) + nb + struct.pack(">HHH", 2, 1, 3))
        t, infos, d = self.opt_until_final(OPT_GO)
        if t != REP_ACK:
            fail("NBD_OPT_GO %s: reply 0x%x %r" % (name, t, d))
        info = {}
        for _, p in infos:
            kind = struct.unpack(">H", p[:2])[0]
            if kind == 0:
                info["size"], info["flags"] = struct.unpack(">QH", p[2:12])
            elif kind == 3:
                info["min"], info["pref"], info["max"] = struct.unpack(">III", p[2:14])
            elif kind == 1:
                info["name"] = p[2:].decode()
        self.structured = structured
        self.info = info
        return info

    def req(self, cmd, handle, offset, length, flags=0, data=b""):
        self.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd, handle, offset, length) + data)

    def reply(self, lengths):
        """One complete reply: (handle, error, message, data).  lengths maps
        handle -> read length, for simple replies."""
        magic = struct.unpack(">I", self.recv(4))[0]
        if magic == SIMPLE_MAGIC:
            err, h = struct.unpack(">IQ", self.recv(12))
            data = self.recv(lengths.get(h, 0)) if err == 0 else b""
            return h, err, "", data
        if magic != STRUCT_MAGIC:
            fail("bad reply magic %x" % magic)
        data, err, msg, handle = b"", 0, "", None
        while True:
            fl, ty, h, n = struct.unpack(">HHQI", self.recv(16))
            p = self.recv(n)
            handle = h
            if ty == T_DATA:
                data += p[8:]
            elif ty == T_ERROR:
                err, ml = struct.unpack(">IH", p[:6])
                msg = p[6 : 6 + ml].decode(errors="replace")
            elif ty != T_NONE:
                fail("unexpected chunk type %d" % ty)
            if fl & 1:
                return handle, err, msg, data
            if struct.unpack(">I", self.recv(4))[0] != STRUCT_MAGIC:
                fail("bad chunk magic")

    def do(self, cmd, offset, length, flags=0, data=b""):
        self.req(cmd, 7, offset, length, flags, data)
        h, err, msg, d = self.reply({7: length if cmd == CMD_READ else 0})
        if h != 7:
            fail("reply for handle %d, not 7" % h)
        return err, msg, d

    def disc(self):
        self.req(CMD_DISC, 0, 0, 0)
        self.s.settimeout(10)
        try:
            if self.s.recv(1) != b"":
                fail("data after NBD_CMD_DISC")
        except ConnectionResetError:
            pass
        self.s.close()


def check(cond, msg):
    if not cond:
        fail(msg)
    ok(msg)


def backing_read(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def ops(sock, name, backing):
    c = Conn(sock)
    c.greet()
    info = c.go(name)
    size, bs = info["size"], info["min"]
    check(info.get("name") == name, "NBD_INFO_NAME is the LU name")
    check(info["flags"] & (1 << 2) and info["flags"] & (1 << 3), "flush and FUA advertised")
    check(info["flags"] & (1 << 5) and info["flags"] & (1 << 6), "trim and write zeroes advertised")
    mib = 1 << 20

    # write zeroes (may trim), then read back zeroes, from the target too
    err, msg, _ = c.do(CMD_WZ, 3 * mib, mib)
    check(err == 0, "WRITE_ZEROES of 1 MiB: %d %s" % (err, msg))
    err, _, d = c.do(CMD_READ, 3 * mib, mib)
    check(err == 0 and d == bytes(mib), "zeroes read back")
    check(backing_read(backing, 3 * mib, mib) == bytes(mib), "zeroes in the backing file")
    # NO_HOLE and FUA
    c.do(CMD_WRITE, 5 * mib, 65536, 0, os.urandom(65536))
    err, msg, _ = c.do(CMD_WZ, 5 * mib, 65536, FLAG_NO_HOLE | FLAG_FUA)
    check(err == 0 and backing_read(backing, 5 * mib, 65536) == bytes(65536),
          "WRITE_ZEROES with NO_HOLE and FUA")

    # FUA write, flush
    pat = os.urandom(8192)
    err, msg, _ = c.do(CMD_WRITE, 6 * mib, 8192, FLAG_FUA, pat)
    check(err == 0 and backing_read(backing, 6 * mib, 8192) == pat, "FUA write reaches the target")
    err, msg, _ = c.do(CMD_FLUSH, 0, 0)
    check(err == 0, "FLUSH: %d %s" % (err, msg))
    # trim: advisory; the server answers it
    err, msg, _ = c.do(CMD_TRIM, 7 * mib, mib)
    check(err == 0, "TRIM answered: %d %s" % (err, msg))

    # refused requests, each with a structured error message
    err, msg, _ = c.do(CMD_READ, size - bs, 2 * bs)
    check(err == EINVAL and "past the end" in msg, "read past the end: EINVAL (%s)" % msg)
    err, msg, _ = c.do(CMD_WRITE, size, bs, 0, bytes(bs))
    check(err == ENOSPC, "write past the end: ENOSPC (%s)" % msg)
    if bs > 1:
        err, msg, _ = c.do(CMD_READ, 1, bs)
        check(err == EINVAL and "aligned" in msg, "unaligned read: EINVAL (%s)" % msg)
    big = info["max"] + bs
    err, msg, _ = c.do(CMD_WRITE, 0, big, 0, bytes(big))
    check(err == EOVERFLOW, "write over the maximum: EOVERFLOW, payload skipped (%s)" % msg)
    err, _, d = c.do(CMD_READ, 0, 4096)
    check(err == 0 and d == backing_read(backing, 0, 4096), "the stream is intact after refusals")

    # many in flight: 32 reads and writes of mixed sizes, answers matched by handle
    random.seed(6)
    want, lengths, writes, reqs = {}, {}, {}, []
    # disjoint ranges (overlapping ones in flight at once have no defined
    # outcome), in shuffled order
    handles = list(range(1, 65))
    random.shuffle(handles)
    off = 8 * mib
    for h in handles:
        n = random.choice([4096, 65536, 262144, 512 << 10])
        if h % 3 == 0:
            data = os.urandom(n)
            writes[h] = (off, data)
            reqs.append((CMD_WRITE, h, off, n, 0, data))
        else:
            lengths[h] = n
            want[h] = (off, n)
            reqs.append((CMD_READ, h, off, n))
        off += n
    # sent from a thread, as a real client does: the server stops reading
    # while its slots are busy, and its replies must be read meanwhile
    t = threading.Thread(target=lambda: [c.req(*r) for r in reqs])
    t.start()
    order = []
    for _ in range(64):
        h, err, msg, d = c.reply(lengths)
        if err:
            fail("in-flight request %d: %d %s" % (h, err, msg))
        order.append(h)
        if h in want and len(d) != want[h][1]:
            fail("read %d: %d bytes" % (h, len(d)))
    t.join()
    check(sorted(order) == list(range(1, 65)), "64 requests in flight, each answered once")
    for h, (off, data) in writes.items():
        if backing_read(backing, off, len(data)) != data:
            fail("write %d not in the backing file" % h)
    ok("in-flight writes in the backing file (%s)" %
       ("out of order" if order != sorted(order) else "in order"))
    c.disc()

    # simple replies (no structured reply negotiated)
    c = Conn(sock)
    c.greet()
    c.go(name, structured=False)
    err, _, d = c.do(CMD_READ, 6 * mib, 8192)
    check(err == 0 and d == pat, "simple reply read")
    err, _, _ = c.do(CMD_READ, size, bs)
    check(err == EINVAL, "simple reply error")
    c.disc()

    # old-style NBD_OPT_EXPORT_NAME
    c = Conn(sock)
    c.greet(flags=1)
    nb = name.encode()
    c.opt(OPT_EXPORT_NAME, nb)
    sz, fl = struct.unpack(">QH", c.recv(10))
    c.recv(124)
    check(sz == size, "NBD_OPT_EXPORT_NAME: size %d" % sz)
    c.structured = False
    err, _, d = c.do(CMD_READ, 6 * mib, 8192)
    check(err == 0 and d == pat, "read after NBD_OPT_EXPORT_NAME")
    c.disc()


def hs_checks(sock, name):
    c = Conn(sock)
    c.greet()
    c.opt(OPT_LIST)
    t, servers, _ = c.opt_until_final(OPT_LIST)
    names = [d[4 : 4 + struct.unpack(">I", d[:4])[0]].decode() for _, d in servers]
    check(t == REP_ACK and name in names, "NBD_OPT_LIST names %s" % name)
    for n, why in (("c0tNOSUCHd0", "unknown name"), ("", "no default export")):
        nb = n.encode()
        c.opt(OPT_INFO, struct.pack(">I", len(nb)) + nb + struct.pack(">H", 0))
        t, _, d = c.opt_until_final(OPT_INFO)
        check(t == REP_ERR_UNKNOWN and d, "%s: NBD_REP_ERR_UNKNOWN (%s)" % (why, d.decode()))
    c.opt(42)
    t, _, d = c.opt_until_final(42)
    check(t == REP_ERR_UNSUP, "unknown option: NBD_REP_ERR_UNSUP")
    c.s.sendall(struct.pack(">QII", OPTS_MAGIC, OPT_INFO, 100000) + bytes(100000))
    t, _, d = c.opt_until_final(OPT_INFO)
    check(t == REP_ERR_TOO_BIG, "100000-byte option: NBD_REP_ERR_TOO_BIG, data skipped")
    nb = name.encode()
    c.opt(OPT_INFO, struct.pack(">I", len(nb)) + nb + struct.pack(">H", 0))
    t, infos, _ = c.opt_until_final(OPT_INFO)
    check(t == REP_ACK and infos, "NBD_OPT_INFO after all that")
    c.opt(OPT_ABORT)
    t, _, _ = c.opt_until_final(OPT_ABORT)
    check(t == REP_ACK, "NBD_OPT_ABORT acknowledged")


def expect_closed(c, what):
    c.s.settimeout(10)
    try:
        while True:
            b = c.s.recv(65536)
            if not b:
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        fail("%s: the server did not close the connection" % what)
    ok("%s: connection closed" % what)


def garbage(sock, name):
    random.seed(1)
    for i in range(20):
        c = Conn(sock)
        c.greet()
        c.go(name, structured=bool(i % 2))
        # a valid read first, then garbage
        c.req(CMD_READ, 1, 0, 4096)
        junk = bytes(random.getrandbits(8) for _ in range(random.choice([4, 27, 28, 100, 5000])))
        if junk[:4] == struct.pack(">I", REQ_MAGIC):
            junk = b"\0" + junk
        try:
            c.s.sendall(junk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_closed(c, "garbage %d (%d bytes)" % (i, len(junk)))


def hs_garbage(sock, name):
    random.seed(2)
    for i in range(20):
        c = Conn(sock)
        c.recv(18)
        junk = bytes(random.getrandbits(8) for _ in range(random.choice([4, 16, 300])))
        if i % 2:  # valid flags, then junk options
            junk = struct.pack(">I", 3) + junk
        try:
            c.s.sendall(junk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.s.settimeout(2)
        # junk may look like a refusable option (then a reply comes) or
        # not (then the connection ends); it must never hang silently
        # with bytes the server could answer
        try:
            b = c.s.recv(65536)
            ok("handshake garbage %d: %s" % (i, "closed" if not b else "answered"))
        except (ConnectionResetError, BrokenPipeError):
            ok("handshake garbage %d: reset" % i)
        except socket.timeout:
            ok("handshake garbage %d: waiting for more bytes" % i)
        c.s.close()


def abandon(sock, name, backing):
    """Requests in flight, then gone without reading a reply: the server
    must finish them (the writes carry what is there already) and forget
    the client."""
    for structured in (True, False):
        c = Conn(sock)
        c.greet()
        c.go(name, structured)
        mib = 1 << 20
        # 32 at most: a client that sends more without reading replies
        # waits for the server, which waits for it
        for h in range(15):
            off = (8 + h) * mib
            c.req(CMD_WRITE, h, off, mib, 0, backing_read(backing, off, mib))
            c.req(CMD_READ, 100 + h, off, mib)
        c.req(CMD_FLUSH, 200, 0, 0)
        c.s.close()
    ok("abandoned 31 requests in flight, twice")


def main():
    sock, name, what = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "ops":
        ops(sock, name, sys.argv[4])
    elif what == "abandon":
        abandon(sock, name, sys.argv[4])
    elif what == "garbage":
        garbage(sock, name)
    elif what == "hs-garbage":
        hs_garbage(sock, name)
    elif what == "hs-checks":
        hs_checks(sock, name)
    else:
        fail("unknown subcommand " + what)


if __name__ == "__main__":
    try:
        main()
    except (OSError, EOFError, struct.error) as e:
        fail("%s: %s (after: %s)" % (type(e).__name__, e, LAST))
