package doctor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fsbench"
)

// trap is the article's trap on the simulated cluster's classes: an
// instance on local-disk next to one on longhorn, a stale snapshot class
// type, and the bench on both classes.
func trap() Report {
	s := healthy()
	s.Instances = append(s.Instances, instance("db", "scratch", ptr.To("local-disk"), v1alpha1.FailoverLease))
	s.PersistentVolumes = []corev1.PersistentVolume{pinnedPV("pvc-4e1f", "local-disk", "node-c")}
	s.VolumeSnapshotClasses[0].Parameters = nil
	s.Longhorn.Settings[lhOverProvisioning] = "200"
	r := Evaluate(s, Rules)
	r.Bench = []BenchResult{
		{Class: "longhorn", Provisioner: LonghornDriver, Replication: Replicated, Node: "node-b",
			Result: &fsbench.Result{Writes: 1000, BlockBytes: 4096, P50Ms: 1.204, P90Ms: 2.31, P99Ms: 4.872, MaxMs: 11.5, MeanMs: 1.4, TotalSeconds: 1.5}},
		{Class: "local-disk", Provisioner: "local.disk.sim.irisha.dev", Replication: NodeLocal, Node: "node-a",
			Result: &fsbench.Result{Writes: 1000, BlockBytes: 4096, P50Ms: 0.41, P90Ms: 0.62, P99Ms: 1.9, MaxMs: 3.3, MeanMs: 0.5, TotalSeconds: 0.5}},
	}
	return r
}

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

func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, trap()); err != nil {
		t.Fatal(err)
	}
	golden(t, "trap.golden", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	b, err := json.MarshalIndent(trap(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trap.json.golden", append(b, '\n'))
}

func TestWrap(t *testing.T) {
	var b bytes.Buffer
	wrap(&b, "  ok       ", "a "+string(bytes.Repeat([]byte("x"), 120))+" b c")
	want := "  ok       a\n           " + string(bytes.Repeat([]byte("x"), 120)) + "\n           b c\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
