package install_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/irisha/irisha/dist"
	"github.com/irisha/irisha/internal/cli/clitest"
)

// TestInstallCommand runs `irisha install` as a user would, against a real
// API server: every object of the embedded manifests is applied, each CRD
// waited for until established, then the operator's Deployment. No kubelet
// runs here, so the Deployment never becomes available and the command ends
// with its wait's timeout, naming it: everything before it worked.
func TestInstallCommand(t *testing.T) {
	env := clitest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	run := env.Irisha(ctx, "install", "--timeout", "20s")
	if run.Error == nil {
		t.Fatalf("install succeeded with no kubelet to run the operator:\n%s", run.Err)
	}
	objs, err := dist.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" && !strings.Contains(run.Err, "applied CustomResourceDefinition "+o.GetName()) {
			t.Errorf("CRD %s not applied:\n%s", o.GetName(), run.Err)
		}
	}
	if msg := run.Error.Error(); !strings.Contains(msg, "irisha-manager") || strings.Contains(msg, "no kind is registered") {
		t.Errorf("install ended with %q, want the operator Deployment's wait", msg)
	}
}
