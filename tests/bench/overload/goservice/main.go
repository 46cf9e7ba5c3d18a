// SPDX-License-Identifier: MIT

// goservice is the overload benchmark's service: a Go net/http server with
// a CPU-bound handler, the situation that motivated sluice. Run it with
// GOMAXPROCS=1 to give it the one core of capacity the references measured.
//
//	GET /work?cpu_us=N&sleep_us=N  spin N µs of CPU (then sleep), answer "done"
//	GET /stats                     requests served and shed, as JSON
//
// With -limit-rate it puts the usual middleware in front of the handler: a
// token bucket (rate, burst) that answers 503 with Retry-After when empty.
// The connection is accepted, read and answered before it is refused: the
// in-application limiter of the benchmark (configuration 3).
//
// Standard library only, so it builds offline with Go from Debian.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// bucket is a token bucket refilled continuously at rate tokens/s up to burst.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate, burst float64) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var served, shed atomic.Uint64

// spin burns d of wall-clock time on this goroutine's thread: with one P and
// a busy handler, wall time on the CPU is CPU time.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func work(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cpu, _ := strconv.Atoi(q.Get("cpu_us"))
	sleep, _ := strconv.Atoi(q.Get("sleep_us"))
	if cpu < 0 || cpu > 10000000 || sleep < 0 || sleep > 10000000 {
		http.Error(w, "cpu_us and sleep_us: 0..10000000\n", http.StatusBadRequest)
		return
	}
	spin(time.Duration(cpu) * time.Microsecond)
	if sleep > 0 {
		time.Sleep(time.Duration(sleep) * time.Microsecond)
	}
	served.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("done\n"))
}

func limit(b *bucket, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !b.take() {
			shed.Add(1)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			http.Error(w, "overloaded\n", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func stats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]uint64{"served": served.Load(), "shed": shed.Load()})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address:port to serve on")
	rate := flag.Float64("limit-rate", 0, "in-application limiter: requests/s admitted (0: none)")
	burst := flag.Float64("limit-burst", 0, "in-application limiter: bucket depth (default: rate/10, at least 1)")
	flag.Parse()

	mux := http.NewServeMux()
	var h http.Handler = http.HandlerFunc(work)
	if *rate > 0 {
		if *burst < 1 {
			*burst = *rate / 10
			if *burst < 1 {
				*burst = 1
			}
		}
		h = limit(newBucket(*rate, *burst), h)
	}
	mux.Handle("/work", h)
	mux.HandleFunc("/stats", stats)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
