package main

import (
	"os"
	"strings"
	"testing"
)

func TestProcReadings(t *testing.T) {
	rss, peak, err := memory(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("memory of this process: RSS %.1f MiB, peak %.1f MiB, %v", rss, peak, err)
	}
	if cpu, err := cpuSeconds(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("CPU time of this process: %v s, %v", cpu, err)
	}
}

func TestGoal(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		r    runResult
		met  bool
	}{
		{"met", runResult{RSSPeakMiB: 84, Latencies: []*float64{f(3), f(1.2)}}, true},
		{"the last instance too slow", runResult{RSSPeakMiB: 84, Latencies: []*float64{f(1), f(2.1)}}, false},
		{"the last instance never Ready", runResult{RSSPeakMiB: 84, Latencies: []*float64{f(1), nil}}, false},
		{"too much memory", runResult{RSSPeakMiB: 151, Latencies: []*float64{f(1)}}, false},
		{"no instance", runResult{RSSPeakMiB: 84}, false},
	} {
		if got := tc.r.met(); got != tc.met {
			t.Errorf("%s: met %v, want %v", tc.name, got, tc.met)
		}
	}
	r := runResult{Latencies: []*float64{f(1), nil}}
	if got := r.percentile(99); got != "not Ready" {
		t.Errorf("p99 with an instance never Ready: %q", got)
	}
	if md := markdown([]runResult{r}, options{nodes: 3}, 0); !strings.Contains(md, "| not met |") {
		t.Errorf("the table does not say the goal is not met:\n%s", md)
	}
}
