// watch-fanout: watch delivery under load, on the official Go client (Debian's
// golang-etcd-server-dev), so etcd and Conclave are measured with the same client.
//
//	-mode fanout (default): W watchers on one prefix, spread over C client connections and S
//	  streams per connection; then P puts under the prefix by N concurrent writers. Reports
//	  the time from the first put to the moment every watcher has received every event, and
//	  checks each watcher saw every revision exactly once, in order.
//	-mode stuck: one watch stream that never reads (a raw gRPC stream: create sent, no Recv)
//	  on the prefix, then P puts of -val-size bytes; reports the server's RSS (-pid) sampled
//	  during the burst and after it.
//	-mode burst: the same burst and RSS samples with no watcher (what the burst alone costs).
//
// Prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"google.golang.org/grpc/metadata"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma separated endpoints")
	mode := flag.String("mode", "fanout", "fanout | stuck | burst")
	watchers := flag.Int("watchers", 2000, "watchers on the prefix (fanout)")
	conns := flag.Int("conns", 20, "client connections the watchers are spread over")
	streams := flag.Int("streams", 1, "watch streams per connection")
	puts := flag.Int("puts", 5000, "puts in the burst")
	writers := flag.Int("writers", 50, "concurrent writers")
	valSize := flag.Int("val-size", 64, "value size")
	pid := flag.Int("pid", 0, "server pid whose RSS is sampled (stuck mode; 0 = none)")
	timeout := flag.Duration("timeout", 300*time.Second, "overall timeout")
	flag.Parse()
	eps := strings.Split(*endpoints, ",")
	dial := func() *clientv3.Client {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, MaxCallRecvMsgSize: 64 << 20})
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(2)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	prefix := fmt.Sprintf("fanout-%d/", time.Now().UnixNano())
	val := strings.Repeat("v", *valSize)
	writer := dial()
	burst := func() (time.Time, time.Duration, int64) {
		var next int64 = -1
		var errs int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < *writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := atomic.AddInt64(&next, 1)
					if int(i) >= *puts || ctx.Err() != nil {
						return
					}
					if _, err := writer.Put(ctx, fmt.Sprintf("%s%06d", prefix, i), val); err != nil {
						atomic.AddInt64(&errs, 1)
					}
				}
			}()
		}
		wg.Wait()
		return start, time.Since(start), errs
	}

	if *mode == "stuck" || *mode == "burst" {
		runStuck(ctx, dial(), prefix, *pid, burst, *mode == "stuck")
		return
	}

	// Fan-out: every watcher opened (created) before the burst starts.
	clients := make([]*clientv3.Client, *conns)
	for i := range clients {
		clients[i] = dial()
	}
	type tally struct {
		n         int64
		last      int64
		bad       int64
		responses int64
		done      chan struct{}
	}
	tallies := make([]*tally, *watchers)
	var ready sync.WaitGroup
	var finishedAt atomic.Value
	var remaining int64 = int64(*watchers)
	for w := 0; w < *watchers; w++ {
		t := &tally{done: make(chan struct{})}
		tallies[w] = t
		c := clients[w%len(clients)]
		// clientv3 multiplexes watches whose contexts carry the same metadata on one stream.
		sctx := metadata.AppendToOutgoingContext(ctx, "stream", strconv.Itoa((w/len(clients))%*streams))
		ready.Add(1)
		go func() {
			wch := c.Watch(sctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			created := false
			for resp := range wch {
				if resp.Created && !created {
					created = true
					ready.Done()
					continue
				}
				if resp.Err() != nil {
					fmt.Fprintln(os.Stderr, "watch:", resp.Err())
					os.Exit(3)
				}
				t.responses++
				for _, ev := range resp.Events {
					if ev.Kv.ModRevision <= t.last {
						t.bad++
					}
					t.last = ev.Kv.ModRevision
					t.n++
				}
				if int(t.n) >= *puts {
					if atomic.AddInt64(&remaining, -1) == 0 {
						finishedAt.Store(time.Now())
					}
					close(t.done)
					return
				}
			}
		}()
	}
	ready.Wait()
	start, putTime, errs := burst()
	for _, t := range tallies {
		select {
		case <-t.done:
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "timed out waiting for events")
			os.Exit(4)
		}
	}
	end := finishedAt.Load().(time.Time)
	var bad, responses int64
	for _, t := range tallies {
		bad += t.bad
		responses += t.responses
	}
	out, _ := json.Marshal(map[string]interface{}{
		"mode": "fanout", "watchers": *watchers, "conns": *conns, "streams": *streams, "puts": *puts,
		"put_s": putTime.Seconds(), "deliver_all_s": end.Sub(start).Seconds(), "events": int64(*watchers) * int64(*puts),
		"out_of_order": bad, "put_errors": errs, "responses": responses,
	})
	fmt.Println(string(out))
}

// runStuck opens a watch stream that never reads and measures the server's RSS during a burst.
func runStuck(ctx context.Context, c *clientv3.Client, prefix string, pid int, burst func() (time.Time, time.Duration, int64), watch bool) {
	if watch {
		wc := pb.NewWatchClient(c.ActiveConnection())
		stream, err := wc.Watch(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "watch:", err)
			os.Exit(3)
		}
		req := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
			Key: []byte(prefix), RangeEnd: []byte(prefix[:len(prefix)-1] + "0"),
		}}}
		if err := stream.Send(req); err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
			os.Exit(3)
		}
	}
	// Never Recv: the stream's window fills and the server has to hold (or drop) the rest.
	before := rss(pid)
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if r := rss(pid); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	_, putTime, errs := burst()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	after := rss(pid)
	out, _ := json.Marshal(map[string]interface{}{
		"mode": map[bool]string{true: "stuck", false: "burst"}[watch], "put_s": putTime.Seconds(), "put_errors": errs,
		"rss_before_mb": mb(before), "rss_peak_mb": mb(peak), "rss_after_mb": mb(after),
	})
	fmt.Println(string(out))
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
