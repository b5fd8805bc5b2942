package kubelet

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	b := DefaultBackoff()
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		got, n := b.Delay(i+1, time.Second)
		if got != w || n != i+1 {
			t.Errorf("crash %d: got %v (count %d), want %v", i+1, got, n, w)
		}
	}
}

func TestBackoffResetsAfterCleanRun(t *testing.T) {
	b := DefaultBackoff()
	got, n := b.Delay(6, 11*time.Minute)
	if got != 0 || n != 1 {
		t.Fatalf("got %v count %d, want an immediate restart and the count reset", got, n)
	}
}
