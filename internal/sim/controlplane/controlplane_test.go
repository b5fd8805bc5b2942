package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/irisha/irisha/internal/sim/proc"
)

func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a control plane")
	}
	var reg proc.Registry
	ctx := context.Background()
	dir := t.TempDir()
	cp, err := Start(ctx, Config{
		Dir: dir, Registry: &reg,
		NodeMonitorGracePeriod: 5 * time.Second, NodeMonitorPeriod: time.Second, NodeStartupGracePeriod: 10 * time.Second,
		DefaultTolerationSeconds: 2, AuditLog: true, Log: testr.New(t),
	})
	t.Cleanup(func() { _ = reg.KillAll() })
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cp.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range reg.PIDs() {
		if proc.Alive(pid) {
			t.Errorf("pid %d alive after Stop", pid)
		}
	}
	audit, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), `"verb":"get","user":{"username":"irisha-sim-admin"`) ||
		!strings.Contains(string(audit), `"objectRef":{"resource":"namespaces","name":"default"`) {
		t.Errorf("the audit log does not show the GET of namespace default:\n%.2000s", audit)
	}
}
