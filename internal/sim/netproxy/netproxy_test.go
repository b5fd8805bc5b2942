package netproxy

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					_, _ = c.Write(append(s.Bytes(), '\n'))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestCutAndHeal(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("before cut: %v", err)
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(open).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if err := roundTrip(p.Addr()); err == nil {
		t.Fatal("round trip succeeded through a cut proxy")
	}
	// The connection opened before the cut must be dropped too.
	if _, err := bufio.NewReader(open).ReadString('\n'); err == nil {
		t.Fatal("open connection survived the cut")
	}
	p.Heal()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

// settled waits until the number of goroutines is back to at most n: what
// a proxy started must be gone once it is closed.
func settled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLatencyDelaysResponses(t *testing.T) {
	target := echoServer(t)
	base := runtime.NumGoroutine()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	const d = 200 * time.Millisecond
	p.SetLatency(d)
	if p.Latency() != d {
		t.Fatalf("Latency() = %v", p.Latency())
	}
	start := time.Now()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d || took > d+time.Second {
		t.Fatalf("round trip took %v with latency %v", took, d)
	}
	// Connections wait side by side, not one after the other.
	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() { errs <- roundTrip(p.Addr()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < d || took > 2*d {
		t.Fatalf("5 concurrent round trips took %v with latency %v", took, d)
	}
	p.SetLatency(0)
	start = time.Now()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= d {
		t.Fatalf("round trip took %v without latency", took)
	}
	p.Close()
	settled(t, base)
}

// TestLatencyKeepsOrder: a chunk read while the latency was high is not
// overtaken by one read after it was removed.
func TestLatencyKeepsOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	second := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("first\n"))
		<-second
		_, _ = c.Write([]byte("second\n"))
		_, _ = io.Copy(io.Discard, c)
	}()
	base := runtime.NumGoroutine()
	p, err := New(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const d = 300 * time.Millisecond
	p.SetLatency(d)
	start := time.Now()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// Let the proxy read "first" under the latency, then drop it.
	time.Sleep(50 * time.Millisecond)
	p.SetLatency(0)
	close(second)
	r := bufio.NewReader(c)
	for _, want := range []string{"first\n", "second\n"} {
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	if took := time.Since(start); took < d {
		t.Fatalf("both lines after %v, want at least %v", took, d)
	}
	_ = c.Close()
	p.Close()
	settled(t, base)
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	target := echoServer(t)
	base := runtime.NumGoroutine()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLatency(time.Hour)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// An echo held back for an hour: Close must not wait for it.
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	p.Close()
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatal("read through a closed proxy")
	}
	_ = c.Close()
	settled(t, base)
}
