package fsbench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %s, want %s", c.p, got, c.want)
		}
	}
	if got := Percentile([]time.Duration{7 * time.Millisecond}, 99); got != 7*time.Millisecond {
		t.Errorf("one sample: p99 = %s", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("no sample: %s", got)
	}
}

func TestSummarize(t *testing.T) {
	// Out of order on purpose: Summarize sorts a copy.
	lat := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond, 10 * time.Millisecond}
	r := Summarize(lat, 4096)
	want := Result{Writes: 4, BlockBytes: 4096, P50Ms: 2, P90Ms: 10, P99Ms: 10, MaxMs: 10, MeanMs: 4}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if lat[0] != 3*time.Millisecond {
		t.Error("Summarize sorted its input")
	}
}

// TestRunInADirectory measures a real directory: the figures are ordered,
// the count is the one asked and the scratch file is gone.
func TestRunInADirectory(t *testing.T) {
	dir := t.TempDir()
	r, err := Run(context.Background(), Options{Dir: dir, Writes: 20, BlockSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	if r.Writes != 20 || r.BlockBytes != 512 || r.P50Ms <= 0 || r.P50Ms > r.P99Ms || r.P99Ms > r.MaxMs || r.TotalSeconds <= 0 {
		t.Errorf("implausible result %+v", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestRunRefusesNonsense(t *testing.T) {
	if _, err := Run(context.Background(), Options{Dir: t.TempDir(), Writes: 0, BlockSize: 4096}); err == nil {
		t.Error("no error for zero writes")
	}
	if _, err := Run(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "missing"), Writes: 1, BlockSize: 1}); err == nil {
		t.Error("no error for a missing directory")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Writes: 5, BlockSize: 1}); err == nil {
		t.Error("no error once the context is done")
	}
}

// TestCommandWritesTheResultFile is what the pod does: the result (or the
// failure) lands in the result file as JSON.
func TestCommandWritesTheResultFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "termination-log")
	var stdout bytes.Buffer
	cmd := NewCommand()
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{FlagDir, dir, FlagWrites, "5", FlagBlockSize, "256", FlagResultFile, out})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var r Result
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Writes != 5 || r.Error != "" {
		t.Errorf("result file %s (%v)", b, err)
	}
	if !bytes.Equal(bytes.TrimSpace(stdout.Bytes()), b) {
		t.Errorf("stdout %q differs from the result file %q", stdout.String(), b)
	}

	cmd = NewCommand()
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{FlagDir, filepath.Join(dir, "missing"), FlagResultFile, out})
	if err := cmd.ExecuteContext(context.Background()); err == nil {
		t.Fatal("no error for a missing directory")
	}
	b, _ = os.ReadFile(out)
	if err := json.Unmarshal(b, &r); err != nil || r.Error == "" {
		t.Errorf("failure not in the result file: %s (%v)", b, err)
	}
}
