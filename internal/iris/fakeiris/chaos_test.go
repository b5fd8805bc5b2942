package fakeiris_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
)

func writeScript(t *testing.T, run string, seq int64) []byte {
	t.Helper()
	s, err := iris.ChaosWriteScript(run, seq)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readScript(t *testing.T, run string) []byte {
	t.Helper()
	s, err := iris.ChaosReadScript(run)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// write runs the write script of run's row seq and fails unless it is
// acknowledged.
func (f *fake) write(run string, seq int64) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out, code := f.terminal(ctx, writeScript(f.t, run, seq))
	if code != 0 || !iris.ParseChaosAck([]byte(out), seq) {
		f.t.Fatalf("writing row %s %d: exit %d:\n%s", run, seq, code, out)
	}
}

// rows runs the read script of run and returns the rows it lists.
func (f *fake) rows(run string) []int64 {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out, code := f.terminal(ctx, readScript(f.t, run))
	rows, err := iris.ParseChaosRows([]byte(out))
	if code != 0 || err != nil {
		f.t.Fatalf("reading run %s: exit %d, %v:\n%s", run, code, err, out)
	}
	return rows
}

// TestChaosRows: the chaos writer's rows are written to durable %SYS by a
// running instance only, one line each with the instance's PID, and read
// back per run in seq order; other terminal input is refused.
func TestChaosRows(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	if out, code := f.terminal(ctx, writeScript(t, "a", 1)); code != 1 || !strings.Contains(out, "<Startup Error>") {
		t.Errorf("a write before the start: exit %d: %s", code, out)
	}
	f.run()
	for _, seq := range []int64{3, 1, 2, 10} {
		f.write("a", seq)
	}
	f.write("b", 1)
	f.write("a", 2) // set twice, one node
	if got := f.rows("a"); !slices.Equal(got, []int64{1, 2, 3, 10}) {
		t.Errorf("rows of a: %v", got)
	}
	if got := f.rows("c"); len(got) != 0 {
		t.Errorf("rows of a run never written: %v", got)
	}
	rows, err := fakeiris.ReadChaosRows(f.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	pid := f.rememberInstance()
	if len(rows) != 6 || rows[0] != (fakeiris.ChaosRow{Run: "a", Seq: 3, PID: pid, At: rows[0].At}) || rows[0].At.IsZero() {
		t.Errorf("rows on disk: %+v (instance pid %d)", rows, pid)
	}

	for _, tc := range []struct {
		name   string
		script string
		args   []string
		want   string
	}{
		{"other ObjectScript", "write 1+1,!\nhalt\n", nil, "<SYNTAX>"},
		{"no input", "", nil, "<SYNTAX>"},
		{"another namespace", string(writeScript(t, "a", 99)), []string{"IRIS", "-U%SYS"}, "<NAMESPACE>"},
	} {
		if out, code := f.terminal(ctx, []byte(tc.script), tc.args...); code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %s:\n%s", tc.name, code, tc.want, out)
		}
	}
	if got := f.rows("a"); !slices.Equal(got, []int64{1, 2, 3, 10}) {
		t.Errorf("rows of a after refused input: %v", got)
	}

	// a torn last line (a crash mid-write) is skipped
	file, err := os.OpenFile(filepath.Join(f.dataDir, fakeiris.ChaosFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.WriteString("a 11 1"); err != nil {
		t.Fatal(err)
	}
	_ = file.Close()
	if got := f.rows("a"); !slices.Equal(got, []int64{1, 2, 3, 10}) {
		t.Errorf("rows of a with a torn line: %v", got)
	}

	if err := f.client().Force(ctx); err != nil {
		t.Fatal(err)
	}
	if out, code := f.terminal(ctx, readScript(t, "a")); code != 1 || !strings.Contains(out, "<Startup Error>") {
		t.Errorf("a read while down: exit %d: %s", code, out)
	}
}

// TestChaosWritesWhileFrozenOrHung: a freeze within its timeout does not
// stop writes (the journal takes them); past it the write waits for the
// thaw; a hung instance does not answer at all.
func TestChaosWritesWhileFrozenOrHung(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	f.run()
	if err := c.Freeze(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.write("r", 1) // within the 1 s timeout
	time.Sleep(1100 * time.Millisecond)

	done := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		out, _ := f.terminal(ctx, writeScript(t, "r", 2))
		done <- out
	}()
	select {
	case out := <-done:
		t.Fatalf("a write past the freeze timeout answered before the thaw:\n%s", out)
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	if out := <-done; !iris.ParseChaosAck([]byte(out), 2) {
		t.Errorf("the paused write after the thaw:\n%s", out)
	}

	f.control(fakeiris.ControlHang)
	hung, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	out, code := f.terminal(hung, writeScript(t, "r", 3))
	cancel()
	if code != -1 {
		t.Errorf("a hung instance answered a write: exit %d:\n%s", code, out)
	}
	f.control()
	if got := f.rows("r"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("rows %v, want 1 and 2 (3 was never taken)", got)
	}
}
