package kube

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rewatchDelay is how long WaitFor waits before watching again after the
// API server failed a watch for a reason other than permissions.
const rewatchDelay = time.Second

// WaitFor calls check with the object's current state, then with every
// change of it, until check says done or fails, or ctx ends (then it
// returns ctx's error). obj receives each state; list is an empty list of
// its kind, for the watch. A deleted object is an error.
//
// It reads and watches the one object itself rather than through an
// informer, so that an error (no permission to watch, say) ends the wait
// with that error instead of being retried silently until the timeout.
// Every new watch starts with a fresh read, so a change the closed watch
// did not deliver is still seen.
func WaitFor[T client.Object](ctx context.Context, c client.WithWatch, key client.ObjectKey, obj T, list client.ObjectList, check func(T) (bool, error)) error {
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := c.GroupVersionKindFor(obj); err == nil {
		kind = gvk.Kind
	}
	for {
		if err := c.Get(ctx, key, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %s was deleted while waiting for it", kind, key.Name)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
		}
		if done, err := check(obj); done || err != nil {
			return err
		}
		w, err := c.Watch(ctx, list, &client.ListOptions{
			Namespace:     key.Namespace,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name),
			Raw:           &metav1.ListOptions{ResourceVersion: obj.GetResourceVersion(), AllowWatchBookmarks: true},
		})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return fmt.Errorf("watching %s %s: %w", kind, key.Name, err)
		case err != nil:
			if err := sleep(ctx, rewatchDelay); err != nil {
				return err
			}
			continue
		}
		done, err := follow(ctx, w, kind, key.Name, check)
		w.Stop()
		if done || err != nil {
			return err
		}
	}
}

// follow delivers a watch's changes to check until check is done or fails,
// or the watch ends (done false: the caller reads and watches again).
func follow[T client.Object](ctx context.Context, w watch.Interface, kind, name string, check func(T) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				obj, ok := ev.Object.(T)
				if !ok {
					return false, fmt.Errorf("watching %s %s: got a %T", kind, name, ev.Object)
				}
				if done, err := check(obj); done || err != nil {
					return done, err
				}
			case watch.Deleted:
				return false, fmt.Errorf("%s %s was deleted while waiting for it", kind, name)
			case watch.Error:
				// Typically 410 Gone: the resource version is too old.
				// Read again and watch from there.
				return false, nil
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithTimeout is context.WithTimeout, where 0 means no limit.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Progress is what a wait says it waits for: a line is printed each time
// it changes.
type Progress interface {
	comparable
	// Line says it, elapsed into the wait.
	Line(elapsed time.Duration) string
}

// WaitShowing is WaitFor that prints state's line to out each time it
// changes, with the time since the wait began.
func WaitShowing[T client.Object, P Progress](ctx context.Context, c client.WithWatch, key client.ObjectKey, obj T, list client.ObjectList,
	out io.Writer, clk clock.PassiveClock, state func(T) P, check func(T) (bool, error)) error {
	start := clk.Now()
	var last *P
	return WaitFor(ctx, c, key, obj, list, func(cur T) (bool, error) {
		if p := state(cur); last == nil || p != *last {
			last = &p
			if _, err := fmt.Fprintln(out, p.Line(clk.Since(start))); err != nil {
				return false, err
			}
		}
		return check(cur)
	})
}
