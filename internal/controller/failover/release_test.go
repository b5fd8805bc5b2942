package failover

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Releases that arrive while a node's patch is in flight go out together
// in the next one, and each caller gets the error of the patch that
// carried its volume.
func TestReleasesJoinTheNextPatchOfTheirNode(t *testing.T) {
	var v volumeReleases
	ctx := context.Background()
	inFlight, unblock := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var patches []sets.Set[string]
	var prevs []*corev1.Node
	write := func(fail error) writeRelease {
		return func(_ context.Context, vols sets.Set[string], prev *corev1.Node) (*corev1.Node, error) {
			mu.Lock()
			patches = append(patches, vols.Clone())
			prevs = append(prevs, prev)
			n := len(patches)
			mu.Unlock()
			if n == 1 {
				close(inFlight)
				<-unblock
			}
			written := &corev1.Node{}
			written.Name = "written-by-patch-" + strconv.Itoa(n)
			return written, fail
		}
	}

	firstErr := make(chan error)
	go func() { firstErr <- v.release(ctx, "node-1", "vol-a", write(nil)) }()
	<-inFlight

	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, vol := range []string{"vol-b", "vol-c", "vol-d"} {
		wg.Go(func() { errs[i] = v.release(ctx, "node-1", vol, write(boom)) })
	}
	// The other node is not held up by node-1's patch in flight.
	if err := v.release(ctx, "node-2", "vol-x", write(nil)); err != nil {
		t.Fatalf("node-2: %v", err)
	}
	waitJoined(t, &v, "node-1", 3)
	close(unblock)
	wg.Wait()

	if err := <-firstErr; err != nil {
		t.Errorf("first release: %v", err)
	}
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("release %d: got %v, want the error of the patch that carried it", i, err)
		}
	}
	want := []sets.Set[string]{sets.New("vol-a"), sets.New("vol-x"), sets.New("vol-b", "vol-c", "vol-d")}
	if len(patches) != len(want) {
		t.Fatalf("patches %v, want %v", patches, want)
	}
	for i := range want {
		if !patches[i].Equal(want[i]) {
			t.Errorf("patch %d carried %v, want %v", i, sets.List(patches[i]), sets.List(want[i]))
		}
	}
	// The batch that waited builds on what the patch before it wrote, not
	// on a cache that has not seen that patch; batches that waited for
	// nothing build on the cache.
	if prevs[0] != nil || prevs[1] != nil {
		t.Errorf("first patches of their nodes were given %v, %v as the previous write", prevs[0], prevs[1])
	}
	if prevs[2] == nil || prevs[2].Name != "written-by-patch-1" {
		t.Errorf("the batch that waited was given %v, want the node as the patch before it wrote it", prevs[2])
	}
	// The chain ended (and the last patch failed): nothing is kept.
	if len(v.written) != 0 {
		t.Errorf("kept %d written nodes after the batches ended", len(v.written))
	}
}

// waitJoined waits until n volumes wait in the node's open batch.
func waitJoined(t *testing.T, v *volumeReleases, node string, n int) {
	t.Helper()
	for {
		v.mu.Lock()
		b := v.open[node]
		got := 0
		if b != nil {
			got = b.volumes.Len()
		}
		v.mu.Unlock()
		if got == n {
			return
		}
		if got > n {
			t.Fatalf("%d volumes in the open batch of %s, want %d", got, node, n)
		}
		runtime.Gosched()
	}
}
