package failover

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// conflictRetry spaces the retries of a write that lost a race: with every
// instance of a lost node failing over at once, a node sees as many writers
// as it had instances, and an instance's status is also written by the
// instance controller. Jitter keeps the contenders apart; about a second in
// all before the reconcile fails and is requeued.
var conflictRetry = wait.Backoff{Steps: 10, Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1}

// patchFresh merge-patches obj (its status subresource if status) with what
// mutate changes, under an optimistic lock, so a change made since obj was
// read is never overwritten; nothing is written when mutate changes
// nothing. After a conflict it reads the object again from the API server,
// past the cache, which lags behind such races, and applies mutate to that:
// mutate must decide from the object it is given. It returns the object as
// written (or as found when there was nothing to write).
func patchFresh[T client.Object](ctx context.Context, c client.Client, reader client.Reader, obj T, status bool, mutate func(T)) (T, error) {
	cur := obj
	err := retry.RetryOnConflict(conflictRetry, func() error {
		changed := cur.DeepCopyObject().(T)
		mutate(changed)
		if equality.Semantic.DeepEqual(cur, changed) {
			return nil
		}
		patch := client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{})
		var err error
		if status {
			err = c.Status().Patch(ctx, changed, patch)
		} else {
			err = c.Patch(ctx, changed, patch)
		}
		switch {
		case err == nil:
			cur = changed
		case apierrors.IsConflict(err):
			fresh := cur.DeepCopyObject().(T)
			if gerr := reader.Get(ctx, client.ObjectKeyFromObject(cur), fresh); gerr != nil {
				return fmt.Errorf("re-reading %T %s after a conflict: %w", cur, client.ObjectKeyFromObject(cur), gerr)
			}
			cur = fresh
		}
		return err
	})
	return cur, err
}
