// SPDX-License-Identifier: MIT
//
// The Go baseline of the pool benchmark (bench_pool runs it in the same run,
// interleaved with the other contenders): the rows of that table done the Go
// way, standard library only. Prints one figure, in ns per task.
//
//	gochan submit N   one producer goroutine sends N tiny tasks (func values)
//	                  into a buffered channel read by two worker goroutines;
//	                  GOMAXPROCS 3: the producer and the two workers, as the
//	                  C contenders have a producer thread and two workers.
//	gochan fib N      fib(N) with a goroutine per call down to n <= 2, joined
//	                  with a WaitGroup; GOMAXPROCS 2, as the pools' 2 workers.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const workers = 2

// the channel holds as many tasks as the sluice pool's default queue bound
const chanCap = 65536

type counter struct {
	n   uint64
	pad [56]byte // one cache line per worker: no false sharing
}

func submit(n int) float64 {
	runtime.GOMAXPROCS(workers + 1)
	counts := make([]counter, workers)
	ch := make(chan func(*counter), chanCap)
	tiny := func(c *counter) { c.n++ }
	var wg sync.WaitGroup

	t0 := time.Now()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func(c *counter) {
			defer wg.Done()
			for f := range ch {
				f(c)
			}
		}(&counts[w])
	}
	done := make(chan struct{})
	go func() { // the producer
		for i := 0; i < n; i++ {
			ch <- tiny
		}
		close(ch)
		close(done)
	}()
	<-done
	wg.Wait()
	el := time.Since(t0)

	var total uint64
	for w := range counts {
		total += counts[w].n
	}
	if total != uint64(n) {
		fmt.Fprintf(os.Stderr, "gochan: ran %d of %d\n", total, n)
		os.Exit(1)
	}
	return float64(el.Nanoseconds()) / float64(n)
}

func fib(n int) int {
	if n <= 2 {
		if n <= 0 {
			return 0
		}
		return 1
	}
	var a, b int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { a = fib(n - 1); wg.Done() }()
	go func() { b = fib(n - 2); wg.Done() }()
	wg.Wait()
	return a + b
}

func fibCalls(n int) int {
	if n <= 2 {
		return 1
	}
	return 1 + fibCalls(n-1) + fibCalls(n-2)
}

func fibRef(n int) int {
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

func runFib(n int) float64 {
	runtime.GOMAXPROCS(workers)
	t0 := time.Now()
	got := fib(n)
	el := time.Since(t0)
	if got != fibRef(n) {
		fmt.Fprintf(os.Stderr, "gochan: fib(%d) = %d, want %d\n", n, got, fibRef(n))
		os.Exit(1)
	}
	return float64(el.Nanoseconds()) / float64(fibCalls(n))
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gochan submit|fib N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "gochan: bad N %q: want a positive integer\n", os.Args[2])
		os.Exit(2)
	}
	switch os.Args[1] {
	case "submit":
		fmt.Printf("%.2f\n", submit(n))
	case "fib":
		fmt.Printf("%.2f\n", runFib(n))
	default:
		fmt.Fprintf(os.Stderr, "gochan: bad mode %q: want submit or fib\n", os.Args[1])
		os.Exit(2)
	}
}
