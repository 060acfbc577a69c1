#!/usr/bin/env python3
"""v2 API throughput: Debian's etcd 3.4 (--enable-v2=true) and Conclave (--enable-v2), same
load generator (wrk with bench/v2/*.lua, 100 connections), same run, rounds alternating which
server goes first.

  bench/v2-compare.py [--candidate dist/conclave] [--reference /usr/bin/etcd] [--rounds 3] [--seconds 8]

Workloads: set (PUT /v2/keys/bench/k<n>, 256-byte values, 10000 keys) then get (GET of those
keys). For each round and server it prints requests/s, p50/p99 latency, non-2xx answers and the
server's CPU time per request (utime+stime of its process from /proc); then the medians and
the candidate/reference ratios. The machine is shared: CPU per request is the steadier figure,
requests/s the one the goal is stated in. Needs wrk (apt-get install wrk).
"""
import argparse, http.client, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(label, binary, flags, workdir):
    cport, pport = free_port(), free_port()
    url, purl = f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{pport}"
    args = [binary, "--name", "default", "--data-dir", os.path.join(workdir, label),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
            "--initial-cluster", f"default={purl}", *flags]
    log = open(os.path.join(workdir, f"{label}.log"), "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", cport, timeout=1)
            c.request("GET", "/v2/keys/")
            r = c.getresponse()
            r.read()
            if r.status == 200 and int(r.getheader("X-Etcd-Index", "0")) >= 3:
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit(f"{label} exited; see {workdir}/{label}.log")
        time.sleep(0.1)
    sys.exit(f"{label} did not become ready")


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(url, script, seconds, pid):
    before = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t1", "-c100", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - before
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "non2xx": non2xx,
            "cpu_us_per_req": cpu / n * 1e6, "socket_errors": errors.group(1) if errors else ""}


def fill(url):
    """bench/k0 .. bench/k9999 exist after this (the get load reads them)."""
    host, port = url.rsplit("//", 1)[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    body = "value=" + "x" * 256
    for i in range(10000):
        c.request("PUT", f"/v2/keys/bench/k{i}", body, {"Content-Type": "application/x-www-form-urlencoded"})
        c.getresponse().read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidate", default=os.path.join(HERE, "..", "dist", "conclave"))
    ap.add_argument("--reference", default="/usr/bin/etcd")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    workdir = tempfile.mkdtemp(prefix="v2bench-")
    servers = {}
    try:
        servers["etcd"] = start("etcd", a.reference, ["--enable-v2=true"], workdir)
        servers["conclave"] = start("conclave", os.path.abspath(a.candidate), ["--enable-v2"], workdir)
        print(f"# load {open('/proc/loadavg').read().split()[:3]}, {a.rounds} rounds x {a.seconds}s, wrk -t1 -c100")
        results = {}
        for wl in ("set", "get"):
            if wl == "get":
                for name, (_, url) in servers.items():
                    fill(url)
            for r in range(a.rounds):
                order = ["etcd", "conclave"] if r % 2 == 0 else ["conclave", "etcd"]
                for name in order:
                    proc, url = servers[name]
                    res = wrk(url, os.path.join(HERE, "v2", f"{wl}.lua"), a.seconds, proc.pid)
                    results.setdefault((wl, name), []).append(res)
                    print(f"{wl:3} round {r + 1} {name:8} {res['rps']:9.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                          f"p99 {res['p99_ms']:7.2f} ms  cpu {res['cpu_us_per_req']:6.1f} us/req  non2xx {res['non2xx']} {res['socket_errors']}")
        print(f"# load {open('/proc/loadavg').read().split()[:3]}")
        for wl in ("set", "get"):
            med = {n: {k: statistics.median(x[k] for x in results[(wl, n)]) for k in ("rps", "p99_ms", "cpu_us_per_req")}
                   for n in ("etcd", "conclave")}
            e, c = med["etcd"], med["conclave"]
            print(f"{wl}: median etcd {e['rps']:.0f} req/s p99 {e['p99_ms']:.2f} ms cpu {e['cpu_us_per_req']:.1f} us/req | "
                  f"conclave {c['rps']:.0f} req/s p99 {c['p99_ms']:.2f} ms cpu {c['cpu_us_per_req']:.1f} us/req | "
                  f"ratio throughput {c['rps'] / e['rps']:.2f}x p99 {c['p99_ms'] / e['p99_ms']:.2f}x cpu/req {c['cpu_us_per_req'] / e['cpu_us_per_req']:.2f}x")
    finally:
        for proc, _ in servers.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
            except Exception:
                pass
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
