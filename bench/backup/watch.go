package main

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// pollInterval is how often cleanup looks whether an object is gone.
const pollInterval = 100 * time.Millisecond

// watchUntil opens a watch on the object called name in namespace ns (list
// is its kind's list type), runs start, and waits until cond holds for the
// object; it returns the time the event that met cond was read, so that
// the moments it measures are not rounded to a poll. A watch the API
// server ends is opened again where it stopped.
func watchUntil[T client.Object](ctx context.Context, cl client.WithWatch, list client.ObjectList, ns, name string,
	start func() error, cond func(T) bool) (time.Time, T, error) {
	var last T
	rv := ""
	open := func() (watch.Interface, error) {
		opts := []client.ListOption{client.InNamespace(ns), client.MatchingFields{"metadata.name": name}}
		if rv != "" {
			opts = append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		}
		w, err := cl.Watch(ctx, list, opts...)
		if err != nil {
			return nil, fmt.Errorf("watching %s: %w", name, err)
		}
		return w, nil
	}
	w, err := open()
	if err != nil {
		return time.Time{}, last, err
	}
	defer func() { w.Stop() }()
	if start != nil {
		if err := start(); err != nil {
			return time.Time{}, last, err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, last, fmt.Errorf("waiting for %s: %w", name, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				w.Stop()
				if w, err = open(); err != nil {
					return time.Time{}, last, err
				}
				continue
			}
			switch ev.Type {
			case watch.Error:
				return time.Time{}, last, fmt.Errorf("watching %s: %w", name, apierrors.FromObject(ev.Object))
			case watch.Deleted:
				return time.Time{}, last, fmt.Errorf("%s was deleted", name)
			case watch.Added, watch.Modified:
				o, ok := ev.Object.(T)
				if !ok {
					continue
				}
				last, rv = o, o.GetResourceVersion()
				if cond(o) {
					return time.Now(), o, nil
				}
			}
		}
	}
}

// waitGone polls until the object is not found.
func waitGone(ctx context.Context, cl client.Client, obj client.Object) error {
	key := client.ObjectKeyFromObject(obj)
	for {
		err := cl.Get(ctx, key, obj)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("waiting for %s to be deleted: %w", key, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be deleted: %w", key, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
