package render

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func render(t *testing.T, files ...string) (string, error) {
	t.Helper()
	out := &bytes.Buffer{}
	o := &Options{Files: files, In: strings.NewReader(""), Out: out, AgentImage: "ghcr.io/irisha/irisha:test"}
	err := o.Run(context.Background())
	return out.String(), err
}

// TestGoldenExamples renders every example and compares with testdata/.
// Run `go test ./internal/cli/render -update` after an intended change and
// review the diff: it is exactly what changes in users' clusters.
func TestGoldenExamples(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, ex := range examples {
		name := filepath.Base(ex)
		t.Run(name, func(t *testing.T) {
			got, err := render(t, ex)
			if err != nil {
				t.Fatalf("render %s: %v", name, err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".yaml")+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("render %s differs from %s; run with -update and review the diff.\ngot:\n%s", name, golden, got)
			}
		})
	}
}

func TestBadInputsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"typo in a field", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec:
  image: x
  storage: {size: 10Gi, sise: 20Gi}
`, []string{"document 1", "sise"}},
		{"missing storage", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec: {image: x}
`, []string{"spec.storage", "Required"}},
		{"invalid mode", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec: {image: x, storage: {size: 1Gi}, failover: {mode: Mirror}}
`, []string{"failover.mode", "Mirror"}},
		{"CEL rule", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec: {image: x, storage: {size: 1Gi}, config: {mergeText: "[config]", configMapRef: {name: c}}}
`, []string{"exactly one"}},
		{"bad CPF names the line", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec:
  image: x
  storage: {size: 1Gi}
  config:
    mergeText: |
      [config]
      globals 0,0,800
`, []string{"line 2", "globals 0,0,800"}},
		{"missing referenced Secret", `apiVersion: irisha.dev/v1alpha1
kind: IrisInstance
metadata: {name: iris}
spec: {image: x, storage: {size: 1Gi}, passwordSecret: {name: pw}}
`, []string{"Secret", "pw", "not found", "add the Secret"}},
		{"unsupported kind", `apiVersion: apps/v1
kind: Deployment
metadata: {name: iris}
`, []string{"apps/v1 Deployment", "not an input"}},
		{"no instance", `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
`, []string{"no IrisInstance"}},
		{"not YAML", "spec: [unclosed\n", []string{"document 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "in.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := render(t, file)
			if err == nil {
				t.Fatalf("render accepted it and printed:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("render printed output although it failed:\n%s", out)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := render(t, filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error = %v", err)
	}
}
