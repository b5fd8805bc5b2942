package chaos

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ok(seq int64, started, acked int, pod string) attempt {
	return attempt{seq: seq, started: at(started), acked: at(acked), pod: pod}
}

func failed(seq int64, started int, pod string) attempt {
	return attempt{seq: seq, started: at(started), pod: pod, err: errors.New("refused")}
}

func TestRecovery(t *testing.T) {
	fault := at(1000)
	cases := []struct {
		name    string
		atts    []attempt
		wantOK  bool
		wantSeq int64
	}{
		{"no outage yet: writes acknowledged after the fault are not a recovery",
			[]attempt{ok(1, 0, 10, "a"), ok(2, 1100, 1110, "a")}, false, 0},
		{"the first ack of an attempt started after the first failure",
			[]attempt{ok(1, 0, 10, "a"), ok(2, 1100, 1110, "a"), failed(3, 1300, "a"), failed(4, 1500, "a"), ok(5, 9000, 9050, "b"), ok(6, 8800, 9100, "b")}, true, 5},
		{"an attempt started before the outage and acked late does not count",
			[]attempt{ok(1, 1200, 20000, "a"), failed(2, 1300, "a"), ok(3, 12000, 12010, "b")}, true, 3},
		{"failures before the fault do not start the outage",
			[]attempt{failed(1, 500, "a"), ok(2, 1100, 1110, "a")}, false, 0},
		{"the earliest acknowledgement wins, not the earliest start",
			[]attempt{failed(1, 1100, "a"), ok(2, 1200, 9000, "b"), ok(3, 1400, 8000, "b")}, true, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found := recovery(c.atts, fault)
			if found != c.wantOK || (found && got.seq != c.wantSeq) {
				t.Errorf("recovery = row %d, %t; want row %d, %t", got.seq, found, c.wantSeq, c.wantOK)
			}
		})
	}
}

func TestLostRows(t *testing.T) {
	atts := []attempt{ok(1, 0, 1, "a"), ok(2, 2, 3, "a"), failed(3, 4, "a"), ok(4, 5, 6, "b"), ok(5, 7, 8, "b")}
	if got := lostRows(atts, []int64{1, 2, 3, 4, 5}); len(got) != 0 {
		t.Errorf("every acknowledged row present: lost %v", got)
	}
	// A failed write that IRIS did commit is not a loss; an acknowledged
	// one missing is.
	if got := lostRows(atts, []int64{1, 4}); !slices.Equal(got, []int64{2, 5}) {
		t.Errorf("lost = %v, want [2 5]", got)
	}
}

func TestStaleAcks(t *testing.T) {
	fault := at(1000)
	atts := []attempt{
		ok(1, 0, 10, "old"), failed(2, 1100, "old"),
		ok(3, 5000, 5010, "new"),
		ok(4, 5100, 5200, "old"), // the old pod still acknowledging: two writers
		ok(5, 4900, 4950, "old"), // before the new pod's first ack: not stale
	}
	if got := staleAcks(atts, fault, "old"); got != 1 {
		t.Errorf("staleAcks = %d, want 1", got)
	}
	if got := staleAcks(atts[:2], fault, "old"); got != 0 {
		t.Errorf("no new pod: staleAcks = %d, want 0", got)
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := ParseScenarios(" iris-stop, node-kill ")
	if err != nil || !slices.Equal(got, []Scenario{IrisStop, NodeKill}) {
		t.Errorf("ParseScenarios = %v, %v", got, err)
	}
	if all, _ := ParseScenarios("all"); !slices.Equal(all, AllScenarios()) {
		t.Errorf("all = %v", all)
	}
	for _, bad := range []string{"", "node-kil", "drain,drain"} {
		if _, err := ParseScenarios(bad); err == nil {
			t.Errorf("ParseScenarios(%q) accepted", bad)
		}
	}
}

func TestCommandFaults(t *testing.T) {
	if _, err := NewCommandFaults("gcloud compute instances stop"); err == nil {
		t.Error("a command without {{.Node}} was accepted")
	}
	f, err := NewCommandFaults(`{{if eq .Action "heal"}}start{{else}}stop{{end}} {{.Node}}`)
	if err != nil {
		t.Fatal(err)
	}
	for action, want := range map[string]string{ActionKill: "stop n1", ActionHeal: "start n1"} {
		if got, err := f.Render(action, "n1"); err != nil || got != want {
			t.Errorf("Render(%s) = %q, %v; want %q", action, got, err, want)
		}
	}
	fails, err := NewCommandFaults("echo no such node {{.Node}} >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if err := fails.Kill(t.Context(), "n1"); err == nil || !strings.Contains(err.Error(), "no such node n1") {
		t.Errorf("a failing command: %v, want its output in the error", err)
	}
}

func TestUninterrupted(t *testing.T) {
	fault := at(1000)
	grace := 10 * time.Second
	if !uninterrupted([]attempt{ok(1, 500, 510, "a"), ok(2, 7000, 7010, "a")}, fault, grace) {
		t.Error("rows acknowledged throughout: interrupted?")
	}
	if uninterrupted([]attempt{ok(1, 500, 510, "a"), failed(2, 1500, "a"), ok(3, 7000, 7010, "a")}, fault, grace) {
		t.Error("a failed write after the fault: uninterrupted?")
	}
	// Attempts that hang answer nothing: no proof the database was up.
	hung := attempt{seq: 2, started: at(1200), pod: "a"}
	if uninterrupted([]attempt{ok(1, 500, 510, "a"), hung}, fault, grace) {
		t.Error("only hanging attempts after the fault: uninterrupted?")
	}
}
