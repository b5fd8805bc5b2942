package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTerminationMessage: each start of a container gets a fresh file,
// and what its process left there is read as the real kubelet reads it,
// 4096 bytes at most.
func TestTerminationMessage(t *testing.T) {
	k := New(Config{StateDir: t.TempDir()})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	f, err := k.terminationMessageFile(pod, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	if readTerminationMessage(f) != "" {
		t.Error("a message before the process wrote one")
	}
	if err := os.WriteFile(f, []byte(strings.Repeat("x", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readTerminationMessage(f); len(got) != maxTerminationMessage {
		t.Errorf("read %d bytes, want %d", len(got), maxTerminationMessage)
	}
	again, err := k.terminationMessageFile(pod, "c", 0)
	if err != nil || again != f {
		t.Fatalf("%s, %v", again, err)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Error("the old message survived a new start")
	}
	if next, _ := k.terminationMessageFile(pod, "c", 1); filepath.Base(next) == filepath.Base(f) {
		t.Error("a restart shares the file of the start before")
	}
	if f, err := New(Config{}).terminationMessageFile(pod, "c", 0); f != "" || err != nil {
		t.Errorf("without a StateDir: %q, %v", f, err)
	}
}
