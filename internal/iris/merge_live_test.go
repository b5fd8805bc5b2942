package iris

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *MergeFile {
	t.Helper()
	m, err := ParseMerge(text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRestartSettings(t *testing.T) {
	prev := mustParse(t, "[Startup]\nShutdownTimeout=300\n[config]\ngmheap=37568\nglobals=0,0,0,0,0,0\n")
	for _, tc := range []struct {
		name string
		prev *MergeFile
		next string
		want []string
	}{
		{"nothing changed", prev, "[Startup]\nShutdownTimeout=300\n[config]\ngmheap=37568\nglobals=0,0,0,0,0,0\n", nil},
		{"a live change", prev, "[Startup]\nShutdownTimeout=200\n[config]\ngmheap=37568\n[SQL]\nDefaultSchema=app\n", nil},
		{"gmheap changed", prev, "[CONFIG]\nGMHEAP=65536\nglobals=0,0,0,0,0,0\n", []string{"[CONFIG] GMHEAP"}},
		{"added", prev, "[config]\ngmheap=37568\nroutines=64\n", []string{"[config] routines"}},
		{"dropped needs nothing", prev, "[Startup]\nShutdownTimeout=300\n", nil},
		{"no previous file", nil, "[config]\ngmheap=37568\n", []string{"[config] gmheap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RestartSettings(tc.prev, mustParse(t, tc.next))
			if !slices.Equal(got, tc.want) {
				t.Errorf("RestartSettings = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMergeReportRoundTrip(t *testing.T) {
	r := MergeReport{Hash: MergeHash([]byte("[config]\ngmheap=1\n")), Outcome: MergeRefused, Message: `line 2: "gmheap=1" out of range`}
	got, err := ParseMergeReport(r.Format())
	if err != nil || got != r {
		t.Fatalf("ParseMergeReport(Format()) = %+v, %v; want %+v", got, err, r)
	}
	long := MergeReport{Hash: "h", Outcome: MergeRefused, Message: strings.Repeat("x", 5000)}
	if got, _ := ParseMergeReport(long.Format()); len(got.Message) > maxReportMessage+3 {
		t.Errorf("message not bounded: %d bytes", len(got.Message))
	}
	for _, bad := range []string{"", "{}", "not json", `{"hash":"h"}`} {
		if _, err := ParseMergeReport(bad); err == nil {
			t.Errorf("ParseMergeReport(%q) accepted", bad)
		}
	}
	if MergeHash([]byte("a")) == MergeHash([]byte("b")) || len(MergeHash(nil)) != 20 {
		t.Error("MergeHash does not tell texts apart")
	}
}
