package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// statusSource is what the probes need from IRIS.
type statusSource interface {
	Status(ctx context.Context) (iris.Instance, error)
}

// health answers the kubelet's probes.
//
//   - /livez fails only when IRIS is down or hung (qlist does not answer in
//     time). It passes while the agent waits for the Lease, during journal
//     recovery, and while the write daemon is frozen for a backup: it reads
//     the status field of qlist, never the health field, which says "hung"
//     during a freeze.
//   - /startupz passes once IRIS has run since the agent started it.
//   - /readyz passes when IRIS runs, its superserver accepts connections and
//     the agent holds the Lease.
type health struct {
	iris        statusSource
	superserver string
	timeout     time.Duration

	started   atomic.Bool   // iris-main was started
	up        chan struct{} // closed once IRIS was seen running since
	upOnce    sync.Once
	leaseHeld atomic.Bool
	metrics   *metrics
}

// setLeaseHeld records whether the agent holds the fencing Lease, for
// /readyz and the lease-held gauge alike.
func (h *health) setLeaseHeld(held bool) {
	h.leaseHeld.Store(held)
	if held {
		h.metrics.leaseHeld.Set(1)
	} else {
		h.metrics.leaseHeld.Set(0)
	}
}

func (h *health) routes(mux *http.ServeMux) {
	mux.HandleFunc("/livez", h.livez)
	mux.HandleFunc("/startupz", h.startupz)
	mux.HandleFunc("/readyz", h.readyz)
}

// check reads IRIS's state within the probe timeout.
func (h *health) check(ctx context.Context) (iris.Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	inst, err := h.iris.Status(ctx)
	if err == nil {
		if inst.Running() {
			h.upOnce.Do(func() { close(h.up) })
		}
		h.metrics.observeIris(inst)
	} else {
		h.metrics.observeIrisError()
	}
	return inst, err
}

// isUp: IRIS was seen running since the agent started it.
func (h *health) isUp() bool {
	select {
	case <-h.up:
		return true
	default:
		return false
	}
}

// running reports whether IRIS runs; when it does not, it answers 503 with
// notRunning, IRIS's status and the error.
func (h *health) running(w http.ResponseWriter, r *http.Request, notRunning string) bool {
	inst, err := h.check(r.Context())
	if err != nil || !inst.Running() {
		reply(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: %s %v", notRunning, inst.StatusText, errOrEmpty(err)))
		return false
	}
	return true
}

func (h *health) livez(w http.ResponseWriter, r *http.Request) {
	if !h.started.Load() {
		reply(w, http.StatusOK, "waiting for the fencing Lease; IRIS not started yet")
		return
	}
	inst, err := h.check(r.Context())
	switch {
	case err != nil:
		reply(w, http.StatusServiceUnavailable, fmt.Sprintf("IRIS does not answer (hung?): %v", err))
	case inst.Status == iris.StatusDown:
		reply(w, http.StatusServiceUnavailable, "IRIS is down: "+inst.StatusText)
	default:
		// running (frozen or not), starting, stopping, sign-on inhibited
		reply(w, http.StatusOK, inst.StatusText)
	}
}

func (h *health) startupz(w http.ResponseWriter, r *http.Request) {
	if h.isUp() {
		reply(w, http.StatusOK, "IRIS has started")
		return
	}
	if !h.started.Load() {
		reply(w, http.StatusServiceUnavailable, "waiting for the fencing Lease")
		return
	}
	if h.running(w, r, "IRIS is not running yet") {
		reply(w, http.StatusOK, "IRIS has started")
	}
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.leaseHeld.Load() {
		reply(w, http.StatusServiceUnavailable, "the agent does not hold the fencing Lease")
		return
	}
	if !h.running(w, r, "IRIS is not running") {
		return
	}
	d := net.Dialer{Timeout: h.timeout}
	conn, err := d.DialContext(r.Context(), "tcp", h.superserver)
	if err != nil {
		reply(w, http.StatusServiceUnavailable, fmt.Sprintf("the superserver at %s does not accept connections: %v", h.superserver, err))
		return
	}
	_ = conn.Close()
	reply(w, http.StatusOK, "ready")
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
