#!/usr/bin/env python3
"""Watch delivery beside etcd: the same Go client (bench/watch-fanout) against Debian's etcd and
Conclave, one member each on loopback, started and stopped by the shared kvbench harness.

  bench/watch-compare.py [--candidate dist/conclave] [--mode fanout|stuck] [-- <watch-fanout flags>]

  fanout: 2000 watchers on one prefix (20 connections), a 5000-put burst by 50 writers; prints
          the time until every watcher has every event, for each server, and the ratio.
  stuck:  one watch stream that never reads, a burst of 20000 puts of 1 KiB; prints each
          server's RSS before, at its peak during, and 2 s after the burst.
  burst:  the same burst with no watcher (what the writes alone cost each server).
"""
import argparse, importlib.util, json, os, shlex, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
KVBENCH = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "tools", "kvbench", "compare.py"))
if not os.path.exists(KVBENCH):
    KVBENCH = "/work/shared/tools/kvbench/compare.py"
spec = importlib.util.spec_from_file_location("kvcompare", KVBENCH)
kv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kv)

DEFAULTS = {
    "fanout": "-watchers 2000 -conns 20 -streams 1 -puts 5000 -writers 50 -val-size 64",
    "stuck": "-puts 20000 -writers 20 -val-size 1024",
    "burst": "-puts 20000 -writers 20 -val-size 1024",
}


def tool():
    out = "/tmp/watch-fanout"
    subprocess.run([os.path.join(HERE, "watch-fanout", "build.sh"), out], check=True, stdout=subprocess.DEVNULL)
    return out


def cpu_s(pid):
    """CPU seconds (user + system) the process has used."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, IndexError):
        return 0.0


def run(label, cmd, mode, flags, workdir, port):
    procs, endpoints = kv.start_cluster(cmd, 1, port, workdir, label)
    try:
        time.sleep(1)
        cpu0 = cpu_s(procs[0].pid)
        args = [tool(), "-endpoints", endpoints, "-mode", mode] + shlex.split(flags)
        if mode in ("stuck", "burst"):
            args += ["-pid", str(procs[0].pid)]
        res = subprocess.run(args, capture_output=True, text=True, timeout=600)
        line = (res.stdout.strip().splitlines() or ["{}"])[-1]
        out = json.loads(line) if line.startswith("{") else {"error": res.stderr.strip()[-300:]}
        out["rss_end_mb"] = round(kv.rss_kb(procs[0].pid) / 1024, 1)
        out["server_cpu_s"] = round(cpu_s(procs[0].pid) - cpu0, 2)
        out["server"] = label
        return out
    finally:
        kv.stop(procs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidate", default=os.path.join(HERE, "..", "dist", "conclave"))
    ap.add_argument("--reference", default="/usr/bin/etcd")
    ap.add_argument("--mode", default="fanout", choices=["fanout", "stuck", "burst"])
    ap.add_argument("flags", nargs="*", help="watch-fanout flags (after --)")
    args = ap.parse_args()
    flags = " ".join(args.flags) or DEFAULTS[args.mode]
    workdir = tempfile.mkdtemp(prefix="watchcompare-")
    try:
        ref = run("etcd", args.reference, args.mode, flags, workdir, 22479)
        cand = run("conclave", args.candidate, args.mode, flags, workdir, 24479)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(ref))
    print(json.dumps(cand))
    if args.mode == "fanout" and ref.get("deliver_all_s") and cand.get("deliver_all_s"):
        print(json.dumps({"deliver_all_ratio": round(cand["deliver_all_s"] / ref["deliver_all_s"], 3)}))
    if args.mode in ("stuck", "burst") and ref.get("rss_peak_mb") and cand.get("rss_peak_mb"):
        print(json.dumps({
            "peak_growth_mb": {"etcd": round(ref["rss_peak_mb"] - ref["rss_before_mb"], 1),
                               "conclave": round(cand["rss_peak_mb"] - cand["rss_before_mb"], 1)},
        }))


if __name__ == "__main__":
    main()
