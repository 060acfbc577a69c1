// kvbench: a small etcd v3 load generator (gRPC, clientv3) used to measure
// the project and a reference etcd side by side with the same client.
// Prints one JSON line: {"op","clients","total","ops_per_s","p50_ms","p99_ms","errors"}.
// kvbench with auth: -user name:password logs every connection in (clientv3's Username and
// Password), and -op auth measures Authenticate calls per second. A copy of the shared
// ../shared/tools/kvbench/main.go; the rest is unchanged.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma separated endpoints")
	conns := flag.Int("conns", 1, "gRPC connections")
	clients := flag.Int("clients", 1, "concurrent clients")
	total := flag.Int("total", 1000, "total requests")
	op := flag.String("op", "put", "put | range | srange (serializable) | txn")
	keySize := flag.Int("key-size", 8, "key size")
	valSize := flag.Int("val-size", 256, "value size")
	keySpace := flag.Int("key-space", 100000, "distinct keys")
	timeout := flag.Duration("timeout", 120*time.Second, "overall timeout")
	user := flag.String("user", "", "name:password: every connection authenticates (auth on)")
	flag.Parse()
	var name, password string
	if *user != "" {
		i := strings.Index(*user, ":")
		if i < 0 {
			fmt.Fprintln(os.Stderr, "-user wants name:password")
			os.Exit(2)
		}
		name, password = (*user)[:i], (*user)[i+1:]
	}

	eps := strings.Split(*endpoints, ",")
	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Username: name, Password: password})
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(2)
		}
		cs[i] = c
	}
	val := strings.Repeat("v", *valSize)
	key := func(i int) string {
		k := fmt.Sprintf("%0*d", *keySize, i%*keySpace)
		return k[len(k)-*keySize:]
	}
	if *op != "put" && *op != "auth" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := cs[0].Put(ctx, key(0), val); err != nil {
			fmt.Fprintln(os.Stderr, "seed put:", err)
			os.Exit(2)
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var next int64 = -1
	var errs int64
	lat := make([][]time.Duration, *clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := cs[w%len(cs)]
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= *total || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				var err error
				switch *op {
				case "put":
					_, err = c.Put(ctx, key(i), val)
				case "range":
					_, err = c.Get(ctx, key(0))
				case "srange":
					_, err = c.Get(ctx, key(0), clientv3.WithSerializable())
				case "auth":
					// Authenticate calls per second (bcrypt on the server), as a logged-in
					// client re-authenticating.
					_, err = pb.NewAuthClient(c.ActiveConnection()).Authenticate(ctx, &pb.AuthenticateRequest{Name: name, Password: password})
				case "txn":
					k := key(i)
					_, err = c.Txn(ctx).If(clientv3.Compare(clientv3.Version(k), ">", -1)).Then(clientv3.OpPut(k, val)).Commit()
				default:
					fmt.Fprintln(os.Stderr, "unknown op", *op)
					os.Exit(2)
				}
				if err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000
	}
	out := map[string]interface{}{
		"op": *op, "clients": *clients, "conns": *conns, "total": *total,
		"ok": len(all), "errors": errs, "seconds": el.Seconds(),
		"ops_per_s": float64(len(all)) / el.Seconds(), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if errs > 0 || ctx.Err() != nil {
		os.Exit(1)
	}
}
