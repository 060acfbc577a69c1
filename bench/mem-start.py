#!/usr/bin/env python3
"""Cold start and memory of one single-member server, etcd flags, free loopback ports.

  bench/mem-start.py --server "dist/conclave" [--workload "-op put -clients 1000 -conns 100 -total 100000"]
  bench/mem-start.py --server /usr/bin/etcd

Prints one JSON line:
  start_ms      exec -> first successful put through the v3 JSON gateway (POST /v3/kv/put)
  idle_mb       RSS once serving, before the workload
  peak_mb       highest RSS sampled (every 50 ms) while the workload ran
  end_mb        RSS right after the workload (what compare.py's rss_mb reports)
  settled_mb    RSS 5 s after the workload
plus kvbench's own result line.
"""
import argparse, json, os, shlex, shutil, signal, socket, subprocess, tempfile, threading, time, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def put_once(port):
    body = json.dumps({"key": "c3RhcnQ=", "value": "MQ=="}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/put", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=1) as r:
        return r.status == 200 and b"header" in r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--workload", default="-op put -clients 1000 -conns 100 -total 100000")
    ap.add_argument("--kvbench", default="/tmp/kvbench")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="memstart-")
    cp, pp = free_port(), free_port()
    cmd = shlex.split(args.server) + [
        "--name", "m0", "--data-dir", os.path.join(work, "data"),
        "--listen-client-urls", f"http://127.0.0.1:{cp}", "--advertise-client-urls", f"http://127.0.0.1:{cp}",
        "--listen-peer-urls", f"http://127.0.0.1:{pp}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{pp}",
        "--initial-cluster", f"m0=http://127.0.0.1:{pp}", "--initial-cluster-state", "new",
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=open(os.path.join(work, "log"), "w"), stderr=subprocess.STDOUT, start_new_session=True)
    out = {"server": args.server}
    try:
        while True:
            if proc.poll() is not None or time.monotonic() - t0 > 60:
                raise SystemExit(f"server did not serve a put (log in {work})")
            try:
                if put_once(cp):
                    break
            except Exception:
                time.sleep(0.005)
        out["start_ms"] = round((time.monotonic() - t0) * 1000, 1)
        time.sleep(1)
        out["idle_mb"] = round(rss_mb(proc.pid), 1)
        peak = [0.0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(proc.pid))
                time.sleep(0.05)

        th = threading.Thread(target=sample)
        th.start()
        res = subprocess.run([args.kvbench, "-endpoints", f"127.0.0.1:{cp}"] + shlex.split(args.workload),
                             capture_output=True, text=True, timeout=600)
        out["end_mb"] = round(rss_mb(proc.pid), 1)
        done.set()
        th.join()
        out["peak_mb"] = round(max(peak[0], out["end_mb"]), 1)
        time.sleep(5)
        out["settled_mb"] = round(rss_mb(proc.pid), 1)
        out["kvbench"] = json.loads((res.stdout.strip().splitlines() or ["{}"])[-1])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
