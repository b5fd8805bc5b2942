package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// volumeReleases batches the removal of volumes from a node's
// status.volumesInUse. A lost node's instances all release their volumes
// within a second or two; one patch each made them lose write races against
// each other, every loss costing a read and a retry on an API server that is
// busy with the same failover. A release that arrives while its node's patch
// is in flight joins the next patch (group commit), so a node sees about one
// patch per batch instead of one per instance.
type volumeReleases struct {
	mu sync.Mutex
	// open is, per node, the batch that later releases may still join.
	open map[string]*releaseBatch
	// writing serialises the patches of one node.
	writing map[string]*sync.Mutex
	// written is, per node, the node as its last patch left it, kept
	// while another batch of the node waits: the cache has rarely seen
	// that patch yet, and a patch built on the cache would fail its test.
	written map[string]*corev1.Node
}

type releaseBatch struct {
	volumes sets.Set[string]
	done    chan struct{}
	err     error
}

// writeRelease removes volumes from one node's volumesInUse. prev is the
// node as the previous batch's patch left it, nil if there was none just
// before; it returns the node as written.
type writeRelease func(ctx context.Context, volumes sets.Set[string], prev *corev1.Node) (*corev1.Node, error)

// release removes volume from node's volumesInUse, together with the other
// releases of the node that arrive before the patch is sent. It returns when
// that patch is done, with its error.
func (v *volumeReleases) release(ctx context.Context, node, volume string, write writeRelease) error {
	v.mu.Lock()
	if v.open == nil {
		v.open, v.writing, v.written = map[string]*releaseBatch{}, map[string]*sync.Mutex{}, map[string]*corev1.Node{}
	}
	b, joined := v.open[node]
	if !joined {
		b = &releaseBatch{volumes: sets.New[string](), done: make(chan struct{})}
		v.open[node] = b
	}
	b.volumes.Insert(volume)
	lock := v.writing[node]
	if lock == nil {
		lock = &sync.Mutex{}
		v.writing[node] = lock
	}
	v.mu.Unlock()

	if !joined {
		// The caller that opened the batch sends it, once the node's
		// previous patch is done: releases arriving meanwhile join it.
		lock.Lock()
		v.mu.Lock()
		delete(v.open, node)
		prev := v.written[node]
		v.mu.Unlock()
		written, err := write(ctx, b.volumes, prev)
		b.err = err
		v.mu.Lock()
		if _, next := v.open[node]; next && err == nil {
			v.written[node] = written
		} else {
			delete(v.written, node)
		}
		v.mu.Unlock()
		lock.Unlock()
		close(b.done)
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// patchVolumesInUse removes volumes from the node's status.volumesInUse with
// a JSON patch that tests the list it replaces: a guard on that one field,
// so the attach/detach controller's updates of volumesAttached (frequent
// while a lost node's volumes detach) do not make it fail, as a
// resourceVersion precondition would. A failed test (422) reads the node
// again, past the cache, and retries. It returns the node as written.
func (r *Reconciler) patchVolumesInUse(ctx context.Context, node *corev1.Node, volumes sets.Set[string]) (*corev1.Node, error) {
	cur := node.DeepCopy()
	err := retry.OnError(conflictRetry, apierrors.IsInvalid, func() error {
		keep := slices.DeleteFunc(slices.Clone(cur.Status.VolumesInUse), func(v corev1.UniqueVolumeName) bool { return volumes.Has(string(v)) })
		if len(keep) == len(cur.Status.VolumesInUse) {
			return nil
		}
		patch, err := json.Marshal([]jsonPatchOp{
			{Op: "test", Path: "/status/volumesInUse", Value: cur.Status.VolumesInUse},
			{Op: "replace", Path: "/status/volumesInUse", Value: keep},
		})
		if err != nil {
			return fmt.Errorf("encoding the patch: %w", err)
		}
		err = r.Status().Patch(ctx, cur, client.RawPatch(types.JSONPatchType, patch))
		if apierrors.IsInvalid(err) {
			if gerr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cur), cur); gerr != nil {
				return fmt.Errorf("re-reading node %s after a failed test: %w", cur.Name, gerr)
			}
		}
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("releasing volumes from node %s: %w", node.Name, err)
	}
	return cur, nil
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}
