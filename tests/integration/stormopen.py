#!/usr/bin/env python3
"""stormopen.py - the "something keeps opening a stale name" load of the
login-storm scenario (tests/integration/t_storm_stale.sh, scripts/storm-demo,
bench/storm-hour).

  stormopen.py RUN_DIR NAME SECONDS [--interval 0.1] [--out FILE] [--kinds fuse,nbd]

Starts one open of NAME every INTERVAL seconds on a fixed schedule (open i
starts at t0 + i * INTERVAL, whatever the earlier opens are doing: each runs
in its own thread), alternating
  fuse: `timeout 10 head -c 1 RUN_DIR/dsk/NAME`  (the opener is "head")
  nbd:  `timeout 10 nbdinfo nbd+unix:///NAME?socket=RUN_DIR/nbd.sock`
and waits for all of them.  Each open's result goes to FILE (one JSON object
a line: i, kind, start (s after t0), took (s), rc, pid, err: the first line
of stderr).  The summary on stdout is one JSON object: opens, per kind the
count, successes, the max and mean time, the most common error, and
"late": how far behind the schedule the latest start was.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time


def one(i, kind, args, t0, res, lock):
    if kind == "fuse":
        cmd = ["timeout", "10", "head", "-c", "1", os.path.join(args.run, "dsk", args.name)]
    else:
        cmd = ["timeout", "10", "nbdinfo",
               "nbd+unix:///%s?socket=%s" % (args.name, os.path.join(args.run, "nbd.sock"))]
    s = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, err = p.communicate()
    e = time.monotonic()
    lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
    r = {"i": i, "kind": kind, "start": round(s - t0, 3), "took": round(e - s, 3),
         "rc": p.returncode, "pid": p.pid, "err": lines[0] if lines else ""}
    with lock:
        res.append(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("name")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--out")
    ap.add_argument("--kinds", default="fuse,nbd")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    n = int(round(args.seconds / args.interval))
    res, lock, threads = [], threading.Lock(), []
    late = 0.0
    t0 = time.monotonic()
    for i in range(n):
        at = t0 + i * args.interval
        d = at - time.monotonic()
        if d > 0:
            time.sleep(d)
        late = max(late, time.monotonic() - at)
        t = threading.Thread(target=one, args=(i, kinds[i % len(kinds)], args, t0, res, lock))
        t.start()
        threads.append(t)
        threads = [x for x in threads if x.is_alive()]
    for t in threads:
        t.join()
    res.sort(key=lambda r: r["i"])
    if args.out:
        with open(args.out, "w") as f:
            for r in res:
                f.write(json.dumps(r) + "\n")
    summ = {"opens": len(res), "seconds": round(time.monotonic() - t0, 2), "late": round(late, 3)}
    for k in kinds:
        rs = [r for r in res if r["kind"] == k]
        errs = {}
        for r in rs:
            errs[r["err"]] = errs.get(r["err"], 0) + 1
        summ[k] = {"opens": len(rs), "ok": sum(1 for r in rs if r["rc"] == 0),
                   "timeouts": sum(1 for r in rs if r["rc"] == 124),
                   "max": max((r["took"] for r in rs), default=0),
                   "mean": round(sum(r["took"] for r in rs) / len(rs), 3) if rs else 0,
                   "error": max(errs, key=errs.get) if errs else ""}
    json.dump(summ, sys.stdout)
    print()


if __name__ == "__main__":
    main()
