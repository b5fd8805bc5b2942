package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memory reads a process's resident set and its peak (VmRSS, VmHWM), MiB.
func memory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the operator's memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		field, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (field != "VmRSS" && field != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing %s of process %d: %w", field, pid, err)
		}
		if field == "VmRSS" {
			rss = kb / 1024
		} else {
			peak = kb / 1024
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading the operator's memory: %w", err)
	}
	return rss, peak, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// cpuSeconds is a process's user and system time (/proc/<pid>/stat).
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the operator's CPU time: %w", err)
	}
	// The command name may hold spaces and parentheses: fields count from
	// after its closing one (state is field 3, utime 14, stime 15).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d: unexpected stat %q", pid, data)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("process %d: unexpected stat %q", pid, data)
	}
	var total float64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: parsing its CPU time: %w", pid, err)
		}
		total += v
	}
	return total / clockTicks, nil
}

// rssSampler keeps the highest VmRSS seen every rssPeriod.
type rssSampler struct {
	mu   sync.Mutex
	max  float64
	done chan struct{}
	wg   sync.WaitGroup
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(rssPeriod)
		defer t.Stop()
		for {
			if rss, _, err := memory(pid); err == nil {
				s.mu.Lock()
				s.max = max(s.max, rss)
				s.mu.Unlock()
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() {
	close(s.done)
	s.wg.Wait()
}

func (s *rssSampler) peak() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}
