package render

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/irisha/irisha/internal/testbin"
	"github.com/irisha/irisha/internal/testenv"
)

// TestKubectlAcceptsRenderedExamples pipes each rendered example into the
// real kubectl, against a real API server: `--dry-run=client` as the issue
// asks, and `--dry-run=server`, which runs the API server's full validation
// and admission on every object.
func TestKubectlAcceptsRenderedExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("needs kube-apiserver and etcd")
	}
	kubectl, err := testbin.Path(testbin.Kubectl)
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)

	examples, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, ex := range examples {
		out, err := render(t, ex)
		if err != nil {
			t.Fatalf("render %s: %v", ex, err)
		}
		for _, mode := range []string{"client", "server"} {
			cmd := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "apply", "--dry-run="+mode, "-f", "-")
			cmd.Stdin = bytes.NewBufferString(out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("kubectl apply --dry-run=%s rejected the rendering of %s: %v\n%s", mode, filepath.Base(ex), err, msg)
			}
		}
	}
}
