package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
)

// DefaultMergeCheckInterval is how often the agent reads the merge file: a
// read of a small file, so a change reaches IRIS within about a second of
// the kubelet writing it.
const DefaultMergeCheckInterval = time.Second

// mergeTimeout bounds one `iris merge`; a merge that takes longer is
// retried at the next check.
const mergeTimeout = time.Minute

// merger runs `iris merge IRIS <file>` (iris.Client.Merge).
type merger interface {
	Merge(ctx context.Context, file string) error
}

// configWatch applies changes of the mounted merge file to the running
// IRIS. IRIS watches $ISC_CPF_MERGE_FILE itself, but whether it notices a
// Secret volume's update (the kubelet swaps the ..data symlink; the file's
// own path never changes) is unverified, so the agent merges every change
// itself; IRIS merging the same file again is harmless (merges are
// idempotent). The file is polled, not watched with inotify: a read per
// second is cheap and sees the content whatever the kubelet's layout.
type configWatch struct {
	file  string
	every time.Duration
	iris  merger
	log   logr.Logger

	// handled is the content last acted on: merged at IRIS's start,
	// merged since, or refused; nil when there was no file.
	handled []byte
	// applied is the content IRIS runs with: merged at its start or live
	// since (a refused file is not). Whether a change needs a restart is
	// judged against it.
	applied []byte
	// failed is the content whose merge could not be run, logged once.
	failed []byte
	report atomic.Pointer[iris.MergeReport]
	// restart carries the settings a planned restart is for; the watch
	// stops after sending it.
	restart chan []string
}

func newConfigWatch(file string, every time.Duration, m merger, log logr.Logger) *configWatch {
	if every <= 0 {
		every = DefaultMergeCheckInterval
	}
	return &configWatch{file: file, every: every, iris: m, log: log, restart: make(chan []string, 1)}
}

// baseline reads the file just before iris-main starts, which merges it
// before IRIS starts: what IRIS will run with. A change the kubelet makes
// between this read and iris-main's is merged again by the watch, at worst
// a needless restart.
func (w *configWatch) baseline() {
	b, err := os.ReadFile(w.file)
	if err != nil {
		w.log.Info("Cannot read the merge file; IRIS starts without it", "file", w.file, "error", err.Error())
		return
	}
	w.handled, w.applied = b, b
}

// started reports the baseline as applied, once IRIS is up on it.
func (w *configWatch) started() {
	if w.handled != nil {
		w.publish(iris.MergeReport{Hash: iris.MergeHash(w.handled), Outcome: iris.MergeApplied})
	}
}

// run checks the file every interval until ctx ends or a restart was
// asked for.
func (w *configWatch) run(ctx context.Context) {
	_ = wait.PollUntilContextCancel(ctx, w.every, false, func(ctx context.Context) (bool, error) { return w.check(ctx), nil })
}

// check acts on a changed file; true means a planned restart was asked for.
func (w *configWatch) check(ctx context.Context) bool {
	next, err := os.ReadFile(w.file)
	if err != nil || bytes.Equal(next, w.handled) {
		// A file gone missing changes nothing: IRIS keeps what it merged.
		return false
	}
	mctx, cancel := context.WithTimeout(ctx, mergeTimeout)
	mergeErr := w.iris.Merge(mctx, w.file)
	cancel()
	rep, restart := decideMerge(w.applied, next, mergeErr)
	switch rep.Outcome {
	case iris.MergeFailed:
		if !bytes.Equal(next, w.failed) {
			w.log.Error(mergeErr, "Running iris merge on the changed merge file; trying again", "hash", rep.Hash)
			w.failed = next
		}
		w.publish(rep)
		return false
	case iris.MergeRefused:
		w.log.Info("IRIS refused the changed merge file; it keeps running on its old configuration", "hash", rep.Hash, "refusal", rep.Message)
	case iris.MergeRestarting:
		w.log.Info("The changed merge file needs a restart; restarting IRIS", "hash", rep.Hash, "settings", restart)
	default:
		w.log.Info("Applied the changed merge file to the running IRIS", "hash", rep.Hash)
	}
	w.handled, w.failed = next, nil
	if rep.Outcome == iris.MergeApplied {
		w.applied = next
	}
	w.publish(rep)
	if rep.Outcome == iris.MergeRestarting {
		w.restart <- restart
		return true
	}
	return false
}

// decideMerge is what became of a change from prev to next, given how
// `iris merge` of next ended: refused (it exited non-zero), not run (any
// other error), applied, or applied to iris.cpf with settings that take
// effect only at a restart (iris.RestartSettings), which it returns.
func decideMerge(prev, next []byte, mergeErr error) (iris.MergeReport, []string) {
	rep := iris.MergeReport{Hash: iris.MergeHash(next)}
	var refused *iris.CommandError
	switch {
	case errors.As(mergeErr, &refused):
		rep.Outcome, rep.Message = iris.MergeRefused, strings.TrimSpace(refused.Output)
		if rep.Message == "" {
			rep.Message = refused.Error()
		}
		return rep, nil
	case mergeErr != nil:
		rep.Outcome, rep.Message = iris.MergeFailed, mergeErr.Error()
		return rep, nil
	}
	nextFile, err := iris.ParseMerge(string(next))
	if err != nil {
		// IRIS took a file irisha's parser refuses (the operator never
		// renders one): nothing says which settings changed.
		rep.Outcome = iris.MergeApplied
		return rep, nil
	}
	var prevFile *iris.MergeFile
	if prev != nil {
		if prevFile, err = iris.ParseMerge(string(prev)); err != nil {
			prevFile = nil
		}
	}
	restart := iris.RestartSettings(prevFile, nextFile)
	if len(restart) == 0 {
		rep.Outcome = iris.MergeApplied
		return rep, nil
	}
	rep.Outcome = iris.MergeRestarting
	rep.Message = fmt.Sprintf("IRIS restarts to apply %s", strings.Join(restart, ", "))
	return rep, restart
}

func (w *configWatch) publish(r iris.MergeReport) { w.report.Store(&r) }

// annotations is the Lease's merge report, none before IRIS is up.
func (w *configWatch) annotations() map[string]string {
	r := w.report.Load()
	if r == nil {
		return nil
	}
	return map[string]string{v1alpha1.AnnotationConfigMerge: r.Format()}
}

// joinAnnotations merges the annotations of several sources.
func joinAnnotations(sources ...func() map[string]string) func() map[string]string {
	return func() map[string]string {
		var out map[string]string
		for _, s := range sources {
			for k, v := range s() {
				if out == nil {
					out = map[string]string{}
				}
				out[k] = v
			}
		}
		return out
	}
}
