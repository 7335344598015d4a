#!/usr/bin/python3
"""faultproxy.py - TCP relay with fault injection, for lunaris integration tests.

    faultproxy.py --listen LPORT --target TPORT --control PATH [--log FILE]
                  [--listen-host 127.0.0.1] [--target-host 127.0.0.1]
    faultproxy.py --control PATH --send "COMMAND"      (client: print the answer)

Relays every connection accepted on LISTEN-HOST:LPORT to TARGET-HOST:TPORT,
many connections at once, in one single-threaded selectors loop (python3
stdlib only).  LPORT 0 picks a free port; the chosen one is in the log line
`listening port=N`.

The control channel is a Unix stream socket at PATH.  Each line sent is one
command; each command gets one answer line ("ok ..." or "error ..."):

  cut        RST every open connection, both sides (SO_LINGER 0, close);
             the listener stays
  stall      stop forwarding in both directions without closing; data stays
             buffered (in the proxy and in the kernel).  New connections are
             still accepted, and stall too.
  resume     forward again
  drop-up    silently discard bytes initiator -> target
  drop-down  silently discard bytes target -> initiator
  undrop     stop discarding (both directions)
  refuse     accept new connections and close them at once (RST), counted
  rate N     limit forwarding to N bytes/s in each direction (all
             connections together), so that a transfer lasts long enough
             to be cut in the middle; rate 0 = unlimited (the default)
  accept     accept and relay new connections again
  stats      accepted=N refused=N open=N bytes_up=N bytes_down=N
             dropped_up=N dropped_down=N cuts=N upstream_failed=N
             stall=0|1 drop_up=0|1 drop_down=0|1 refuse=0|1 rate=N
  quit       close everything and exit

The log (--log, default stderr) has one line per event, first field a
CLOCK_MONOTONIC timestamp in seconds, then wall=<unix time>, the event and
key=value details:

  12.345678 wall=1700000000.123456 accept id=3 peer=127.0.0.1:41234
  12.400001 wall=1700000000.177779 refuse n=5 peer=127.0.0.1:41236
  12.500000 wall=1700000000.277778 cut n=1
  ...       close id=3 why=eof|reset|upstream-refused|...
  ...       cmd stall
"""

import argparse
import errno
import os
import selectors
import signal
import socket
import struct
import sys
import time

BUF_MAX = 1 << 20      # per direction: stop reading the source above this
RECV_SZ = 256 << 10


class Proxy:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.logf = open(args.log, "a", buffering=1) if args.log else sys.stderr
        self.stall = False
        self.drop = {"up": False, "down": False}
        self.refuse = False
        self.rate = 0                      # bytes/s per direction, 0 = unlimited
        self.tokens = {"up": 0.0, "down": 0.0}
        self.last_refill = time.monotonic()
        self.st = dict(accepted=0, refused=0, bytes_up=0, bytes_down=0,
                       dropped_up=0, dropped_down=0, cuts=0, upstream_failed=0)
        self.conns = {}        # id -> Conn
        self.next_id = 1
        self.running = True

        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((args.listen_host, args.listen))
        self.ls.listen(128)
        self.ls.setblocking(False)
        self.sel.register(self.ls, selectors.EVENT_READ, ("listen", None))

        try:
            os.unlink(args.control)
        except FileNotFoundError:
            pass
        self.cs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.cs.bind(args.control)
        self.cs.listen(16)
        self.cs.setblocking(False)
        self.sel.register(self.cs, selectors.EVENT_READ, ("ctl-listen", None))
        self.ctl = {}          # ctl socket -> bytearray (pending input)
        self.log("listening", port=self.ls.getsockname()[1],
                 target="%s:%d" % (args.target_host, args.target))

    # ------------------------------------------------------------ logging
    def log(self, event, **kv):
        parts = ["%.6f" % time.monotonic(), "wall=%.6f" % time.time(), event]
        parts += ["%s=%s" % (k, v) for k, v in kv.items()]
        self.logf.write(" ".join(parts) + "\n")
        self.logf.flush()

    # ------------------------------------------------------------ helpers
    @staticmethod
    def rst_close(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()

    def unreg(self, s):
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass

    # ------------------------------------------------------------ accept
    def on_accept(self):
        while True:
            try:
                c, addr = self.ls.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.log("accept-error", err=e.errno)
                return
            peer = "%s:%d" % addr[:2]
            if self.refuse:
                self.st["refused"] += 1
                self.log("refuse", n=self.st["refused"], peer=peer)
                self.rst_close(c)
                continue
            self.st["accepted"] += 1
            cid = self.next_id
            self.next_id += 1
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            u.setblocking(False)
            u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(cid, c, u, peer)
            self.conns[cid] = conn
            self.log("accept", id=cid, peer=peer, n=self.st["accepted"])
            err = u.connect_ex((self.args.target_host, self.args.target))
            if err not in (0, errno.EINPROGRESS):
                self.upstream_failed(conn, err)
                continue
            conn.connecting = err != 0
            if not conn.connecting:
                conn.connected()
            self.update(conn)

    def upstream_failed(self, conn, err):
        self.st["upstream_failed"] += 1
        self.close_conn(conn, "upstream-" + (errno.errorcode.get(err, str(err))),
                        rst=True)

    # ------------------------------------------------------------ relay
    def update(self, conn):
        """(Re)register both sockets with the events they need now."""
        if conn.closed:
            return
        want = {conn.c: 0, conn.u: 0}
        if conn.connecting:
            want[conn.u] = selectors.EVENT_WRITE
        elif not self.stall:
            # direction up: c -> u ; down: u -> c
            for src, dst, d in ((conn.c, conn.u, "up"), (conn.u, conn.c, "down")):
                if (not conn.eof[d] and len(conn.buf[d]) < BUF_MAX and
                        (not self.rate or self.tokens[d] >= 1)):
                    want[src] |= selectors.EVENT_READ
                if conn.buf[d]:
                    want[dst] |= selectors.EVENT_WRITE
        for s, ev in want.items():
            cur = conn.reg.get(s, 0)
            if ev == cur:
                continue
            if cur and ev:
                self.sel.modify(s, ev, ("conn", conn))
            elif ev:
                self.sel.register(s, ev, ("conn", conn))
            else:
                self.unreg(s)
            conn.reg[s] = ev

    def on_conn(self, conn, s, mask):
        if conn.closed:
            return
        if conn.connecting:
            err = conn.u.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.upstream_failed(conn, err)
                return
            conn.connecting = False
            conn.connected()
            self.update(conn)
            return
        if self.stall:
            self.update(conn)
            return
        if mask & selectors.EVENT_READ:
            d = "up" if s is conn.c else "down"
            n = RECV_SZ
            if self.rate:
                n = int(min(n, self.tokens[d]))
            try:
                data = s.recv(n) if n > 0 else None
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                self.close_conn(conn, "%s-%s" % ("initiator" if d == "up" else "target",
                                                 errno.errorcode.get(e.errno, e.errno)),
                                rst=True)
                return
            if data is not None:
                if not data:
                    conn.eof[d] = True
                    self.log("eof", id=conn.id,
                             side="initiator" if d == "up" else "target")
                elif self.drop[d]:
                    self.tokens[d] -= len(data)
                    self.st["dropped_" + d] += len(data)
                else:
                    self.tokens[d] -= len(data)
                    conn.buf[d] += data
        # always try to flush what is buffered (sends are non-blocking)
        for d, dst in (("up", conn.u), ("down", conn.c)):
            b = conn.buf[d]
            if not b:
                continue
            try:
                n = dst.send(b)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                self.close_conn(conn, "%s-%s" % ("target" if d == "up" else "initiator",
                                                 errno.errorcode.get(e.errno, e.errno)),
                                rst=True)
                return
            del b[:n]
            self.st["bytes_" + d] += n
        # propagate half-closes once the buffer is flushed
        for d, dst in (("up", conn.u), ("down", conn.c)):
            if conn.eof[d] and not conn.buf[d] and not conn.shut[d]:
                conn.shut[d] = True
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if conn.shut["up"] and conn.shut["down"]:
            self.close_conn(conn, "eof", rst=False)
            return
        self.update(conn)

    def close_conn(self, conn, why, rst):
        if conn.closed:
            return
        conn.closed = True
        for s in (conn.c, conn.u):
            self.unreg(s)
            if rst:
                self.rst_close(s)
            else:
                s.close()
        self.conns.pop(conn.id, None)
        self.log("close", id=conn.id, why=why, pending_up=len(conn.buf["up"]),
                 pending_down=len(conn.buf["down"]))

    # ------------------------------------------------------------ control
    def on_ctl_accept(self):
        try:
            s, _ = self.cs.accept()
        except OSError:
            return
        s.setblocking(False)
        self.ctl[s] = bytearray()
        self.sel.register(s, selectors.EVENT_READ, ("ctl", s))

    def on_ctl(self, s):
        try:
            data = s.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.unreg(s)
            self.ctl.pop(s, None)
            s.close()
            return
        buf = self.ctl[s]
        buf += data
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            ans = self.command(line.decode("utf-8", "replace").strip())
            try:
                s.setblocking(True)
                s.sendall((ans + "\n").encode())
                s.setblocking(False)
            except OSError:
                pass

    def stats_line(self):
        st = dict(self.st)
        st["open"] = len(self.conns)
        order = ["accepted", "refused", "open", "bytes_up", "bytes_down",
                 "dropped_up", "dropped_down", "cuts", "upstream_failed"]
        s = " ".join("%s=%d" % (k, st[k]) for k in order)
        return s + " stall=%d drop_up=%d drop_down=%d refuse=%d rate=%d" % (
            self.stall, self.drop["up"], self.drop["down"], self.refuse, self.rate)

    def refill(self):
        now = time.monotonic()
        dt, self.last_refill = now - self.last_refill, now
        if not self.rate:
            return
        burst = max(self.rate * 0.05, 16384)
        for d in self.tokens:
            self.tokens[d] = min(self.tokens[d] + dt * self.rate, burst)
        for conn in list(self.conns.values()):
            self.update(conn)

    def command(self, cmd):
        if cmd == "stats":
            return self.stats_line()
        if cmd:
            self.log("cmd", name=cmd)
        if cmd == "cut":
            n = len(self.conns)
            for conn in list(self.conns.values()):
                self.close_conn(conn, "cut", rst=True)
            self.st["cuts"] += n
            self.log("cut", n=n)
            return "ok cut=%d" % n
        if cmd == "stall":
            self.stall = True
            for conn in list(self.conns.values()):
                self.update(conn)
            return "ok stall open=%d" % len(self.conns)
        if cmd == "resume":
            self.stall = False
            for conn in list(self.conns.values()):
                if conn.connecting:
                    self.update(conn)
                else:   # flush what was buffered while stalled
                    self.on_conn(conn, None, 0)
            return "ok resume open=%d" % len(self.conns)
        if cmd in ("drop-up", "drop-down"):
            d = cmd[5:]
            self.drop[d] = True
            # what is already buffered in that direction is dropped too
            for conn in self.conns.values():
                self.st["dropped_" + d] += len(conn.buf[d])
                conn.buf[d].clear()
                self.update(conn)
            return "ok " + cmd
        if cmd == "undrop":
            self.drop = {"up": False, "down": False}
            return "ok undrop"
        if cmd == "refuse":
            self.refuse = True
            return "ok refuse"
        if cmd == "accept":
            self.refuse = False
            return "ok accept"
        if cmd.startswith("rate ") or cmd == "rate":
            try:
                r = int(cmd.split()[1])
                if r < 0:
                    raise ValueError
            except (IndexError, ValueError):
                return "error rate needs a number of bytes per second >= 0"
            self.rate = r
            self.tokens = {"up": 0.0, "down": 0.0}
            for conn in list(self.conns.values()):
                self.update(conn)
            return "ok rate=%d" % r
        if cmd == "quit":
            self.running = False
            return "ok quit"
        return "error unknown command: %s" % cmd

    # ------------------------------------------------------------ loop
    def run(self):
        while self.running:
            try:
                events = self.sel.select(0.01 if self.rate else 0.2)
            except InterruptedError:
                continue
            for key, mask in events:
                kind, obj = key.data
                if kind == "listen":
                    self.on_accept()
                elif kind == "ctl-listen":
                    self.on_ctl_accept()
                elif kind == "ctl":
                    self.on_ctl(obj)
                elif kind == "conn":
                    self.on_conn(obj, key.fileobj, mask)
                if not self.running:
                    break
            self.refill()
        self.shutdown()

    def shutdown(self):
        for conn in list(self.conns.values()):
            self.close_conn(conn, "quit", rst=True)
        for s in list(self.ctl):
            s.close()
        self.ls.close()
        self.cs.close()
        try:
            os.unlink(self.args.control)
        except OSError:
            pass
        self.log("exit", **{k: v for k, v in self.st.items()})


class Conn:
    def __init__(self, cid, c, u, peer):
        self.id = cid
        self.c, self.u = c, u
        self.peer = peer
        self.buf = {"up": bytearray(), "down": bytearray()}
        self.eof = {"up": False, "down": False}
        self.shut = {"up": False, "down": False}
        self.reg = {}
        self.connecting = True
        self.closed = False

    def connected(self):
        pass


def client(path, cmd, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((cmd + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except OSError as e:
        print("error control channel %s: %s" % (path, e))
        return 2
    finally:
        s.close()
    line = buf.decode("utf-8", "replace").strip()
    print(line)
    return 0 if line and not line.startswith("error") else 1


def main():
    ap = argparse.ArgumentParser(description="TCP relay with fault injection")
    ap.add_argument("--listen", type=int, help="listen port (0: any)")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--target", type=int, help="target port")
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--control", required=True, help="control Unix socket path")
    ap.add_argument("--log", help="event log file (default stderr)")
    ap.add_argument("--send", metavar="CMD", help="client mode: send CMD, print answer")
    ap.add_argument("--timeout", type=float, default=5.0, help="client mode timeout")
    args = ap.parse_args()
    if args.send is not None:
        sys.exit(client(args.control, args.send, args.timeout))
    if args.listen is None or args.target is None:
        ap.error("--listen and --target are required")
    p = Proxy(args)
    signal.signal(signal.SIGTERM, lambda *a: setattr(p, "running", False))
    signal.signal(signal.SIGINT, lambda *a: setattr(p, "running", False))
    p.run()


if __name__ == "__main__":
    main()
