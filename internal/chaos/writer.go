package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// maxInFlight bounds the writer's concurrent attempts: during an outage an
// attempt may hang until its timeout (an exec to an unreachable node), and
// a new one still starts every interval so the RTO keeps its resolution.
const maxInFlight = 32

// attempt is one write, as the writer saw it.
type attempt struct {
	seq     int64
	started time.Time
	// acked is when the acknowledgement arrived (zero if none).
	acked time.Time
	pod   string
	err   error
	// abandoned: the writer stopped while the attempt ran; it is neither
	// an acknowledgement nor a failure of IRIS.
	abandoned bool
}

// rowStore is how the writer reaches IRIS: a write of one row into the pod
// named, and a read of every row of the run.
type rowStore interface {
	write(ctx context.Context, pod string, seq int64) error
	read(ctx context.Context, pod string) ([]int64, error)
}

// sessionStore writes and reads rows with `iris session` in the IRIS
// container, through an Execer (kubectl exec, or the simulated kubelet).
type sessionStore struct {
	exec      Execer
	namespace string
	container string
	run       string
}

func (s sessionStore) write(ctx context.Context, pod string, seq int64) error {
	script, err := iris.ChaosWriteScript(s.run, seq)
	if err != nil {
		return err
	}
	out, err := s.exec.Exec(ctx, s.namespace, pod, s.container, script, iris.ChaosSessionArgv()...)
	if err != nil {
		return err
	}
	if !iris.ParseChaosAck(out, seq) {
		return fmt.Errorf("row %d not acknowledged: IRIS answered %q", seq, trim(out))
	}
	return nil
}

func (s sessionStore) read(ctx context.Context, pod string) ([]int64, error) {
	script, err := iris.ChaosReadScript(s.run)
	if err != nil {
		return nil, err
	}
	out, err := s.exec.Exec(ctx, s.namespace, pod, s.container, script, iris.ChaosSessionArgv()...)
	if err != nil {
		return nil, fmt.Errorf("reading the rows back from %s: %w", pod, err)
	}
	rows, err := iris.ParseChaosRows(out)
	if err != nil {
		return nil, fmt.Errorf("reading the rows back from %s: %w", pod, err)
	}
	return rows, nil
}

func trim(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// writer appends numbered rows, one attempt every interval, each to the
// pod target() names at that moment (the pod a client would reach), and
// keeps every attempt. A row counts as acknowledged only when IRIS said so
// within timeout.
type writer struct {
	store    rowStore
	target   func() string
	interval time.Duration
	timeout  time.Duration

	mu       sync.Mutex
	next     int64
	attempts []*attempt
	wg       sync.WaitGroup
}

// start writes until ctx ends; stop waits for the attempts in flight.
func (w *writer) start(ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		inFlight := make(chan struct{}, maxInFlight)
		tick := time.NewTicker(w.interval)
		defer tick.Stop()
		for {
			select {
			case inFlight <- struct{}{}:
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					defer func() { <-inFlight }()
					w.once(ctx)
				}()
			default:
				// Every slot hangs on an unreachable pod: this tick is not
				// an attempt, the next one may be.
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (w *writer) stop() { w.wg.Wait() }

func (w *writer) once(ctx context.Context) {
	w.mu.Lock()
	w.next++
	a := &attempt{seq: w.next, started: time.Now()}
	w.attempts = append(w.attempts, a)
	w.mu.Unlock()

	pod := w.target()
	var err error
	if pod == "" {
		err = errNoPod
	} else {
		actx, cancel := context.WithTimeout(ctx, w.timeout)
		err = w.store.write(actx, pod, a.seq)
		cancel()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a.pod, a.err = pod, err
	switch {
	case err == nil:
		a.acked = time.Now()
	case ctx.Err() != nil:
		a.abandoned = true
	}
}

// errNoPod: no pod of the instance was Ready, so there was nowhere to write.
var errNoPod = fmt.Errorf("no Ready pod to write to")

// snapshot returns a copy of the attempts so far.
func (w *writer) snapshot() []attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]attempt, 0, len(w.attempts))
	for _, a := range w.attempts {
		if !a.abandoned {
			out = append(out, *a)
		}
	}
	return out
}
