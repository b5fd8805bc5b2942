package status

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

const (
	// resync redraws at least this often: Events, backups and ages change
	// without the watched objects changing.
	resync = 10 * time.Second
	// settle gathers a burst of changes into one redraw: a failover touches
	// the instance, its pods and its Lease within milliseconds.
	settle = 200 * time.Millisecond
	// rewatch is the pause before a failed or ended watch is opened again.
	rewatch = time.Second
)

// clearScreen moves the cursor home and clears the terminal, so each frame
// replaces the last.
const clearScreen = "\x1b[H\x1b[2J"

// watch redraws until ctx ends (Ctrl-C) or WatchFor has passed; both end it
// without an error. Only a failing first reading is an error: later ones
// are shown and retried.
func (o *Options) watch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.WatchFor)
	defer cancel()
	changed := make(chan struct{}, 1)
	o.startWatches(ctx, changed)
	terminal := isTerminal(o.Out)
	for frame := 0; ; frame++ {
		v, err := o.read(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && frame == 0:
			return err
		case err != nil:
			fmt.Fprintf(o.Out, "%s: %v (retrying)\n", time.Now().Format(time.TimeOnly), err)
		default:
			if err := o.drawFrame(v, frame, terminal); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(resync):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(settle):
		}
		select {
		case <-changed:
		default:
		}
	}
}

// drawFrame prints one frame: over the last one on a terminal, else after a
// separator each format knows (a YAML document, a JSON value per line).
func (o *Options) drawFrame(v View, frame int, terminal bool) error {
	switch {
	case o.Output == OutputText && terminal:
		fmt.Fprint(o.Out, clearScreen)
	case frame == 0, o.Output == OutputJSON:
	case o.Output == OutputYAML:
		fmt.Fprintln(o.Out, "---")
	default:
		fmt.Fprintln(o.Out, "\n----------------------------------------------------------------")
	}
	return o.print(v)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startWatches signals changed whenever the instance, one of its pods or its
// fencing Lease changes.
func (o *Options) startWatches(ctx context.Context, changed chan<- struct{}) {
	ns := o.Namespace
	lease := resources.FencingLeaseName(&v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: o.Name}})
	sources := []struct {
		list client.ObjectList
		opts []client.ListOption
	}{
		{&v1alpha1.IrisInstanceList{}, []client.ListOption{client.InNamespace(ns), client.MatchingFields{"metadata.name": o.Name}}},
		{&corev1.PodList{}, []client.ListOption{client.InNamespace(ns), client.MatchingLabels{resources.LabelIrisInstance: o.Name}}},
		{&coordinationv1.LeaseList{}, []client.ListOption{client.InNamespace(ns), client.MatchingFields{"metadata.name": lease}}},
	}
	for _, s := range sources {
		go watchOne(ctx, o.Client, s.list, s.opts, changed)
	}
}

// watchOne keeps one watch open until ctx ends, reopening it when the API
// server ends it (it does, every few minutes) or it fails.
func watchOne(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, changed chan<- struct{}) {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, list, opts...)
		if err == nil {
			forward(ctx, w.ResultChan(), changed)
			w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(rewatch):
		}
	}
}

func forward[T any](ctx context.Context, events <-chan T, changed chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				return
			}
			select {
			case changed <- struct{}{}:
			default: // a redraw is already due
			}
		}
	}
}
