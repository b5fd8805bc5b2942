package stats

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	inf := math.Inf(1)
	twenty := make([]float64, 20)
	for i := range twenty {
		twenty[i] = float64(20 - i) // 20, 19, ... 1: unsorted on purpose
	}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, tc := range []struct {
		name    string
		samples []float64
		p       float64
		want    float64
		ok      bool
	}{
		{"empty", nil, 50, 0, false},
		{"p zero", []float64{1}, 0, 0, false},
		{"p above 100", []float64{1}, 101, 0, false},
		{"one sample p50", []float64{7}, 50, 7, true},
		{"one sample p99", []float64{7}, 99, 7, true},
		{"two samples p50 is the lower", []float64{9, 3}, 50, 3, true},
		{"two samples p51 is the upper", []float64{9, 3}, 51, 9, true},
		{"twenty p50: 10th smallest", twenty, 50, 10, true},
		{"twenty p99: the largest", twenty, 99, 20, true},
		{"twenty p95: 19th", twenty, 95, 19, true},
		{"hundred p99: 99th", hundred, 99, 99, true},
		{"hundred p100", hundred, 100, 100, true},
		{"hundred p1", hundred, 1, 1, true},
		{"unrecovered run reaches p99", []float64{1, 2, inf}, 99, inf, true},
		{"unrecovered run below p50", []float64{1, 2, inf}, 50, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Percentile(tc.samples, tc.p)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("Percentile(%v, %v) = %v, %v; want %v, %v", tc.samples, tc.p, got, ok, tc.want, tc.ok)
			}
		})
	}
	// The input is not reordered.
	in := []float64{3, 1, 2}
	_, _ = Percentile(in, 50)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("percentile sorted its input: %v", in)
	}
}

func TestFinitePercentile(t *testing.T) {
	if v := FinitePercentile(nil, 50); v != nil {
		t.Errorf("no samples: %v, want nil", *v)
	}
	if v := FinitePercentile([]float64{1, math.Inf(1)}, 99); v != nil {
		t.Errorf("infinite: %v, want nil", *v)
	}
	if v := FinitePercentile([]float64{1, math.Inf(1)}, 50); v == nil || *v != 1 {
		t.Errorf("p50 of 1 and +Inf: %v, want 1", v)
	}
}
