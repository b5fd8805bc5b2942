package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
)

// fakeMerger answers `iris merge` with err and counts the calls.
type fakeMerger struct {
	err   error
	calls int
}

func (m *fakeMerger) Merge(context.Context, string) error {
	m.calls++
	return m.err
}

func TestConfigWatch(t *testing.T) {
	file := filepath.Join(t.TempDir(), "merge.cpf")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report := func(w *configWatch) iris.MergeReport {
		t.Helper()
		r, err := iris.ParseMergeReport(w.annotations()[v1alpha1.AnnotationConfigMerge])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const start = "[Startup]\nShutdownTimeout=300\n[config]\ngmheap=37568\n"
	m := &fakeMerger{}
	w := newConfigWatch(file, 0, m, testr.New(t))
	write(start)
	w.baseline()
	if w.annotations() != nil {
		t.Error("a report before IRIS is up")
	}
	w.started()
	if r := report(w); r.Outcome != iris.MergeApplied || r.Hash != iris.MergeHash([]byte(start)) {
		t.Errorf("at start: %+v", r)
	}
	if w.check(context.Background()) || m.calls != 0 {
		t.Errorf("an unchanged file was merged (%d calls)", m.calls)
	}

	live := "[Startup]\nShutdownTimeout=200\n[config]\ngmheap=37568\n"
	write(live)
	if w.check(context.Background()) || m.calls != 1 {
		t.Fatalf("a live change: restart asked or %d merges", m.calls)
	}
	if r := report(w); r.Outcome != iris.MergeApplied || r.Hash != iris.MergeHash([]byte(live)) {
		t.Errorf("after a live change: %+v", r)
	}

	m.err = &iris.CommandError{Args: []string{"merge"}, Code: 1, Output: "Configuration merge failed: [config] gmheap=100: outside the range\n"}
	refused := "[config]\ngmheap=100\n"
	write(refused)
	if w.check(context.Background()) {
		t.Fatal("a refused change asked for a restart")
	}
	if r := report(w); r.Outcome != iris.MergeRefused || r.Message != "Configuration merge failed: [config] gmheap=100: outside the range" {
		t.Errorf("after a refusal: %+v", r)
	}
	if w.check(context.Background()); m.calls != 2 {
		t.Errorf("a refused file was merged again: %d merges", m.calls)
	}

	m.err = context.DeadlineExceeded
	timedOut := "[config]\ngmheap=37568\n[SQL]\nDefaultSchema=app\n"
	write(timedOut)
	w.check(context.Background())
	if r := report(w); r.Outcome != iris.MergeFailed {
		t.Errorf("after a merge that could not run: %+v", r)
	}
	m.err = nil
	if w.check(context.Background()) || m.calls != 4 || report(w).Outcome != iris.MergeApplied {
		t.Errorf("the failed merge was not retried: %d merges, %+v", m.calls, report(w))
	}

	restart := "[config]\ngmheap=65536\n[SQL]\nDefaultSchema=app\n"
	write(restart)
	if !w.check(context.Background()) {
		t.Fatal("a gmheap change asked for no restart")
	}
	if got := <-w.restart; !slices.Equal(got, []string{"[config] gmheap"}) {
		t.Errorf("restart for %q", got)
	}
	if r := report(w); r.Outcome != iris.MergeRestarting || r.Hash != iris.MergeHash([]byte(restart)) {
		t.Errorf("before the restart: %+v", r)
	}
}

func TestDecideMerge(t *testing.T) {
	prev := []byte("[config]\ngmheap=37568\n")
	for _, tc := range []struct {
		name    string
		next    string
		err     error
		want    iris.MergeOutcome
		restart []string
	}{
		{"applied", "[config]\ngmheap=37568\n[SQL]\nDefaultSchema=x\n", nil, iris.MergeApplied, nil},
		{"restart", "[config]\ngmheap=40000\n", nil, iris.MergeRestarting, []string{"[config] gmheap"}},
		{"refused before any restart", "[config]\ngmheap=1\n", &iris.CommandError{Code: 1, Output: "no"}, iris.MergeRefused, nil},
		{"not run", "[config]\ngmheap=40000\n", errors.New("exec: iris: not found"), iris.MergeFailed, nil},
		{"unparseable but taken", "[config]\nbad line\n", nil, iris.MergeApplied, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, restart := decideMerge(prev, []byte(tc.next), tc.err)
			if rep.Outcome != tc.want || !slices.Equal(restart, tc.restart) || rep.Hash != iris.MergeHash([]byte(tc.next)) {
				t.Errorf("decideMerge = %+v, %q; want %s, %q", rep, restart, tc.want, tc.restart)
			}
		})
	}
}
