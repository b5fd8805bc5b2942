package fsbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Command is the hidden subcommand of irisha-manager that runs Run.
const Command = "fsbench"

// Flags of the subcommand, shared with the CLI that builds the pod and the
// simulated cluster's runner that rewrites them.
const (
	FlagDir        = "--dir"
	FlagResultFile = "--result-file"
	FlagWrites     = "--writes"
	FlagBlockSize  = "--block-size"
)

// Defaults: 1000 commits of 4 KiB take a few seconds on a replicated
// volume (a few milliseconds each) and give a p99 from ten samples.
const (
	DefaultWrites    = 1000
	DefaultBlockSize = 4096
	// warmup writes are not counted: the first ones allocate the file's
	// first extents and fill caches.
	warmup = 10
)

// Options of Run.
type Options struct {
	// Dir is where the scratch file goes (the volume's mount).
	Dir string
	// Writes is how many block appends, each followed by fsync, are timed.
	Writes int
	// BlockSize is the size of each append in bytes.
	BlockSize int
}

// Result is what Run measured. Latencies are of one append plus its
// fsync, in milliseconds.
type Result struct {
	Writes       int     `json:"writes"`
	BlockBytes   int     `json:"blockBytes"`
	P50Ms        float64 `json:"p50Ms"`
	P90Ms        float64 `json:"p90Ms"`
	P99Ms        float64 `json:"p99Ms"`
	MaxMs        float64 `json:"maxMs"`
	MeanMs       float64 `json:"meanMs"`
	TotalSeconds float64 `json:"totalSeconds"`
	// Error says why the measure failed; the figures are then zero.
	Error string `json:"error,omitempty"`
}

// Run appends opts.Writes blocks to a scratch file in opts.Dir, fsyncing
// after each, and summarises the latencies. The scratch file is removed
// whatever happens.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Writes <= 0 || opts.BlockSize <= 0 {
		return Result{}, fmt.Errorf("writes %d and block size %d: want both positive", opts.Writes, opts.BlockSize)
	}
	f, err := os.CreateTemp(opts.Dir, ".irisha-fsbench-*")
	if err != nil {
		return Result{}, fmt.Errorf("creating the scratch file in %s: %w", opts.Dir, err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	lat, total, err := measure(ctx, f, opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", f.Name(), cerr)
	}
	if err != nil {
		return Result{}, err
	}
	r := Summarize(lat, opts.BlockSize)
	r.TotalSeconds = round(total.Seconds(), 3)
	return r, nil
}

// measure times each append+fsync after the warmup ones.
func measure(ctx context.Context, f *os.File, opts Options) ([]time.Duration, time.Duration, error) {
	block := make([]byte, opts.BlockSize)
	for i := range block {
		block[i] = byte(i)
	}
	lat := make([]time.Duration, 0, opts.Writes)
	start := time.Now()
	for i := range warmup + opts.Writes {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		if _, err := f.Write(block); err != nil {
			return nil, 0, fmt.Errorf("writing %s: %w", filepath.Base(f.Name()), err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("fsync of %s: %w", filepath.Base(f.Name()), err)
		}
		if i >= warmup {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, time.Since(start), nil
}

// Summarize computes the percentiles (nearest rank) of the latencies.
func Summarize(lat []time.Duration, blockSize int) Result {
	r := Result{Writes: len(lat), BlockBytes: blockSize}
	if len(lat) == 0 {
		return r
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	r.P50Ms = ms(Percentile(s, 50))
	r.P90Ms = ms(Percentile(s, 90))
	r.P99Ms = ms(Percentile(s, 99))
	r.MaxMs = ms(s[len(s)-1])
	r.MeanMs = ms(sum / time.Duration(len(s)))
	return r
}

// Percentile is the nearest-rank p-th percentile of sorted (ascending)
// durations: the smallest value with at least p% of the values at or
// below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// errResult marks a failure already written as a Result.
var errResult = errors.New("fsbench failed")
