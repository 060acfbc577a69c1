#!/usr/bin/env python3
"""Auth benchmarks against Debian's etcd, same client (bench/kvbench-auth), same run.

  python3 bench/auth-compare.py put [--nodes 1] [--workload "-clients 1000 -conns 100 -total 100000"]
      put with auth on as a non-root user allowed on every key: etcd and Conclave with simple
      tokens, both with JWT (RS256), and Conclave with auth off; ratios printed last.
  python3 bench/auth-compare.py authenticate [--cost 10] [--workload "-clients 16 -conns 4 -total 200"]
      Authenticate calls per second at --bcrypt-cost N, etcd and Conclave.

Servers are started with compare.py's helpers (../shared/tools/kvbench), one at a time.
"""
import argparse, json, os, shlex, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# ../shared beside the main checkout (worktrees live one level deeper).
for up in ("..", os.path.join("..", "..")):
    sys.path.insert(0, os.path.join(ROOT, up, "shared", "tools", "kvbench"))
import compare  # noqa: E402  (start_cluster, stop, rss_kb, ensure_etcd)

CONCLAVE = os.path.join(ROOT, "dist", "conclave")
ETCD = "/usr/bin/etcd"
USER = "bench:benchpw"


def kvbench():
    if not os.path.exists("/tmp/kvbench-auth"):
        subprocess.run([os.path.join(HERE, "kvbench-auth", "build.sh"), "/tmp/kvbench-auth"], check=True, stdout=subprocess.DEVNULL)
    return "/tmp/kvbench-auth"


def ctl(endpoints, *args):
    env = dict(os.environ, ETCDCTL_API="3")
    r = subprocess.run(["etcdctl", f"--endpoints={endpoints}", *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"etcdctl {' '.join(args)}: {r.stderr.strip()}")


def enable_auth(endpoints):
    """root, and user bench with readwrite on every key (a non-root user: permission checks run)."""
    for args in (["user", "add", "root:rootpw"], ["user", "add", USER], ["role", "add", "bench"],
                 ["role", "grant-permission", "bench", "readwrite", "", "--prefix"], ["user", "grant-role", "bench", "bench"],
                 ["auth", "enable"]):
        ctl(endpoints, *args)


def run(label, cmd, nodes, workload, workdir, port, auth):
    procs, endpoints = compare.start_cluster(cmd, nodes, port, workdir, label)
    try:
        if auth:
            enable_auth(endpoints)
        time.sleep(1)
        argv = [kvbench(), "-endpoints", endpoints] + shlex.split(workload) + (["-user", USER] if auth else [])
        res = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        line = (res.stdout.strip().splitlines() or ["{}"])[-1]
        out = json.loads(line) if line.startswith("{") else {"error": res.stderr.strip()[-300:]}
        out["rss_mb"] = round(sum(compare.rss_kb(p.pid) for p in procs) / 1024, 1)
        out["server"] = label
        print(json.dumps(out), flush=True)
        return out
    finally:
        compare.stop(procs)


def ratio(a, b):
    return round(a["ops_per_s"] / b["ops_per_s"], 3) if a.get("ops_per_s") and b.get("ops_per_s") else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["put", "authenticate"])
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--cost", type=int, default=10)
    ap.add_argument("--workload")
    args = ap.parse_args()
    compare.ensure_etcd(ETCD)
    workdir = tempfile.mkdtemp(prefix="authbench-")
    try:
        if args.what == "put":
            wl = "-op put " + (args.workload or "-clients 1000 -conns 100 -total 100000")
            k = os.path.join(workdir, "jwt")
            os.makedirs(k)
            subprocess.run(["openssl", "genrsa", "-out", f"{k}/priv.pem", "2048"], check=True, capture_output=True)
            subprocess.run(["openssl", "rsa", "-in", f"{k}/priv.pem", "-pubout", "-out", f"{k}/pub.pem"], check=True, capture_output=True)
            jwt = f" --auth-token jwt,pub-key={k}/pub.pem,priv-key={k}/priv.pem,sign-method=RS256,ttl=10m"
            r = {}
            r["etcd_simple"] = run("etcd-simple", ETCD, args.nodes, wl, workdir, 22379, True)
            r["conclave_simple"] = run("conclave-simple", CONCLAVE, args.nodes, wl, workdir, 24379, True)
            r["conclave_off"] = run("conclave-off", CONCLAVE, args.nodes, wl, workdir, 26379, False)
            r["etcd_jwt"] = run("etcd-jwt", ETCD + jwt, args.nodes, wl, workdir, 22479, True)
            r["conclave_jwt"] = run("conclave-jwt", CONCLAVE + jwt, args.nodes, wl, workdir, 24479, True)
            print(json.dumps({
                "simple_vs_etcd": ratio(r["conclave_simple"], r["etcd_simple"]),
                "jwt_vs_etcd": ratio(r["conclave_jwt"], r["etcd_jwt"]),
                "simple_vs_auth_off": ratio(r["conclave_simple"], r["conclave_off"]),
                "jwt_vs_auth_off": ratio(r["conclave_jwt"], r["conclave_off"]),
            }))
        else:
            wl = "-op auth " + (args.workload or ("-clients 16 -conns 4 -total 200" if args.cost >= 10 else "-clients 16 -conns 4 -total 3000"))
            flags = f" --bcrypt-cost {args.cost}"
            e = run(f"etcd-cost{args.cost}", ETCD + flags, args.nodes, wl, workdir, 22379, True)
            c = run(f"conclave-cost{args.cost}", CONCLAVE + flags, args.nodes, wl, workdir, 24379, True)
            print(json.dumps({"authenticate_vs_etcd": ratio(c, e), "cost": args.cost}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
