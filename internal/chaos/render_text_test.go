package chaos

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\n%s", path, t.Name(), got)
	}
}

func render(t *testing.T, f func(io.Writer, *Report) error, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTableGolden(t *testing.T) {
	golden(t, "compare.table.golden", []byte(render(t, Table, fixture())))
}

func TestMarkdownGolden(t *testing.T) {
	golden(t, "compare.md.golden", []byte(render(t, Markdown, fixture())))
}

// lineOf is the table's line that holds drill, as the terminal shows it.
func lineOf(t *testing.T, out, drill string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.Contains(line, "  "+drill+"  ") {
			return line
		}
	}
	t.Fatalf("no line for %s in:\n%s", drill, out)
	return ""
}

// TestTableColumns checks what a reader takes from the table: each setup's
// RTO and RPO sit under their own heading, to a tenth of a second, and a
// drill that did not recover or was not checked says so, not "0".
func TestTableColumns(t *testing.T) {
	out := render(t, Table, fixture())
	header := lineOf(t, out, "Drill")
	for _, tc := range []struct {
		drill, column, want string
	}{
		{"iris-stop", "irisha RTO", "13.4 s"},
		{"iris-stop", "irisha RPO (rows lost)", "0"},
		{"iris-stop", "reference RTO", "13.9 s"},
		{"iris-stop", "reference RPO (rows lost)", "not checked [1]"},
		{"node-kill", "irisha RTO", "41.2 s"},
		{"node-kill", "reference RTO", "did not recover within 120 s"},
		{"node-kill", "reference RPO (rows lost)", "not checked [2]"},
		{"drain", "irisha RTO", "9.3 s"},
		{"drain", "reference RPO (rows lost)", "3 rows [3]"},
	} {
		t.Run(tc.drill+"/"+tc.column, func(t *testing.T) {
			at := strings.Index(header, tc.column)
			if at < 0 {
				t.Fatalf("no column %q in header %q", tc.column, header)
			}
			line := lineOf(t, out, tc.drill)
			if !strings.HasPrefix(line[at:], tc.want) {
				t.Errorf("%s under %q reads %q, want %q", tc.drill, tc.column, line[at:], tc.want)
			}
		})
	}
	for _, want := range []string{
		"Writer: one INSERT", "Journal: synchronous commit",
		"[1] reference, iris-stop: reading the rows back",
		"[2] reference, node-kill: did not recover within 120 s",
		"[3] reference, drain: 2 writes acknowledged by the old pod",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

// TestTableOneSetup: a plain `irisha chaos run` has no setup to tell
// apart, so the outcome columns carry no setup name.
func TestTableOneSetup(t *testing.T) {
	r := fixture()
	r.Setups = r.Setups[:1]
	header := lineOf(t, render(t, Table, r), "Drill")
	if got := strings.Join(strings.Fields(header), " "); got != "Failure domain Drill Mitigated by RTO RPO (rows lost)" {
		t.Errorf("header %q", header)
	}
}

// TestTableDrillOnlyOneSetupRan: a drill missing from a setup is marked as
// not run there, and the columns stay in place.
func TestTableDrillOnlyOneSetupRan(t *testing.T) {
	r := fixture()
	r.Setups[1].Results = r.Setups[1].Results[:1]
	out := render(t, Table, r)
	header := lineOf(t, out, "Drill")
	line := lineOf(t, out, "node-kill")
	if at := strings.Index(header, "reference RTO"); !strings.HasPrefix(line[at:], notRun) {
		t.Errorf("node-kill under reference RTO: %q", line[at:])
	}
}

func TestOutcomeTexts(t *testing.T) {
	faultAt := fixture().Setups[0].Results[0].FaultAt
	for _, tc := range []struct {
		name     string
		r        Result
		rto, rpo string
	}{
		{"tenth of a second", Result{FaultAt: faultAt, RTOSeconds: ptr.To(13.449), Checked: true}, "13.4 s", "0"},
		{"rounds up", Result{FaultAt: faultAt, RTOSeconds: ptr.To(0.96), Checked: true, Lost: []int64{7}}, "1.0 s", "1 row"},
		{"not recovered", Result{FaultAt: faultAt, WindowSeconds: 90.5}, "did not recover within 90.5 s", "not checked"},
		{"not recovered, no window", Result{Marks: []Mark{{Kind: MarkFault}}}, "did not recover", "not checked"},
		{"never started", Result{Error: "no node to drain to"}, "did not run", "not checked"},
		{"checked, none lost", Result{FaultAt: faultAt, RTOSeconds: ptr.To(2.0), Checked: true}, "2.0 s", "0"},
		{"lost rows", Result{FaultAt: faultAt, RTOSeconds: ptr.To(2.0), Checked: true, Lost: []int64{1, 2, 3}}, "2.0 s", "3 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rtoText(&tc.r); got != tc.rto {
				t.Errorf("RTO %q, want %q", got, tc.rto)
			}
			if got := rpoText(&tc.r); got != tc.rpo {
				t.Errorf("RPO %q, want %q", got, tc.rpo)
			}
		})
	}
}

func TestMarkdownSections(t *testing.T) {
	out := render(t, Markdown, fixture())
	for _, want := range []string{
		"# Chaos report: shop/db\n",
		"- Started: 2026-11-30 14:02:11 UTC\n",
		"| Failure domain | Drill | Mitigated by | irisha RTO | irisha RPO (rows lost) | reference RTO | reference RPO (rows lost) |\n",
		"| Kubernetes node | node-kill | the node is fenced and the pod starts on another node | 41.2 s | 0 | did not recover within 120 s | not checked \\[2\\] |\n",
		"## reference\n",
		"- Pod: db-0 on node-2 → db-0 on node-3\n",
		"- Pod: db-0 on node-2 → none\n",
		"- detected +40.1 s: node-2 NotReady\n",
		"- fenced +40.3 s: out-of-service taint on node-2, volume attachment gone\n",
		"- Writes: 67 acknowledged, 64 failed; stale acks: 2\n",
		"- RTO: did not recover within 120 s; RPO: not checked\n",
		"- Lost rows (sequence numbers): 41, 42, 43\n",
		"- Error: reading the rows back: exec into db-0: container iris not found\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	// Marks are listed in the order a recovery passes them.
	irisha := out[strings.Index(out, "### node-kill"):]
	last := -1
	for _, kind := range MarkOrder {
		at := strings.Index(irisha, "- "+string(kind)+" +")
		if at < 0 {
			continue // not a mark of this drill
		}
		if at < last {
			t.Errorf("mark %s is listed out of order", kind)
		}
		last = at
	}
}

// TestHostileStringsStayText: names and messages come from the cluster; in
// Markdown they must not become markup, in the terminal not escape
// sequences.
func TestHostileStringsStayText(t *testing.T) {
	r := hostile()
	md := render(t, Markdown, r)
	if strings.Contains(md, "<script>") || !strings.Contains(md, `\<script\>`) {
		t.Errorf("the Markdown lets a tag through:\n%s", md)
	}
	if strings.Contains(md, "| broken |") {
		t.Errorf("a pipe in a cell splits the Markdown table")
	}
	text := render(t, Table, r)
	if strings.ContainsAny(text, "\x1b\t") {
		t.Errorf("the table carries a control character: %q", text)
	}
}

// hostile is the fixture with names and messages an attacker or a broken
// cluster could put there.
func hostile() *Report {
	r := fixture()
	r.Instance = `db"><script>alert(1)</script>`
	r.Setups[0].Name = `irisha" onload="alert(1)`
	res := &r.Setups[0].Results[1]
	res.OldPod = "<script>alert('pod')</script>"
	res.FailureDomain = "node | broken | table"
	res.Marks[1].Detail = `<img src=x onerror=alert(1)> and ]]></title>`
	res.Error = "exec failed: \x1b[2Jcleared\tthe screen"
	return r
}

func TestJSONRoundTrips(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, fixture()) {
		t.Errorf("the report does not survive JSON:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "\n  \"setups\": [") {
		t.Errorf("not indented:\n%.300s", b.String())
	}
	// An unread table stays distinguishable from one with nothing lost.
	if !strings.Contains(b.String(), `"lost": null`) || !strings.Contains(b.String(), `"lost": []`) {
		t.Errorf("lost rows: unchecked and none lost look alike")
	}
}
