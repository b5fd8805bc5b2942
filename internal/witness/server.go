package witness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"

	"github.com/irisha/irisha/internal/quorum"
)

// maxQuestion bounds a question's body: it is a nonce and a name.
const maxQuestion = 4 << 10

// Config of one witness.
type Config struct {
	// Namespace the records live in (the witnesses' own).
	Namespace string
	// Node the witness runs on; its record is RecordName(Node).
	Node string
	// Pod names this run in the record.
	Pod string
	// ListenAddress is where questions are answered.
	ListenAddress string
	// AdvertiseAddress is what agents dial (the node's IP and the port).
	AdvertiseAddress string
	Timing           quorum.Timing
	Clock            clock.WithTicker
}

type identity struct{ node, pod, address, publicKey string }

// Witness is one running witness.
type Witness struct {
	cfg    Config
	leases coordinationclient.LeaseInterface
	key    ed25519.PrivateKey
	id     identity
	log    logr.Logger

	// mu orders answers and record writes: no answer falls between taking
	// a write's send time and its CannotAgo.
	mu    sync.Mutex
	state *quorum.Witness
	// cutOff: the last answer was "cannot"; only the first of a run is
	// logged at Info.
	cutOff bool
}

// New makes a witness with a fresh key: a restarted witness is a new
// signer, so nothing its previous run signed can be passed off as its.
func New(cfg Config, leases coordinationclient.LeasesGetter, log logr.Logger) (*Witness, error) {
	if err := cfg.Timing.Validate(); err != nil {
		return nil, err
	}
	if cfg.Node == "" || cfg.Namespace == "" || cfg.AdvertiseAddress == "" {
		return nil, errors.New("a witness needs its node, its namespace and the address it advertises")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the witness's signing key: %w", err)
	}
	return &Witness{
		cfg: cfg, leases: leases.Leases(cfg.Namespace), key: key,
		id:    identity{node: cfg.Node, pod: cfg.Pod, address: cfg.AdvertiseAddress, publicKey: EncodeKey(pub)},
		log:   log.WithValues("witness", RecordName(cfg.Node)),
		state: quorum.NewWitness(cfg.Timing, cfg.Clock.Now()),
	}, nil
}

// Handler answers questions.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+AskPath, func(rw http.ResponseWriter, r *http.Request) {
		var q Question
		if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, maxQuestion)).Decode(&q); err != nil || q.Nonce == "" {
			http.Error(rw, "a question is JSON with a nonce", http.StatusBadRequest)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(w.Answer(q))
	})
	return mux
}

// Answer answers q now.
func (w *Witness) Answer(q Question) Reply {
	w.mu.Lock()
	cannot := w.state.Answer(w.cfg.Clock.Now())
	first := cannot && !w.cutOff
	w.cutOff = cannot
	w.mu.Unlock()
	if first {
		w.log.Info("Cannot reach the API server either: answering \"cannot\", so agents keep IRIS running", "asker", q.From)
	}
	return Sign(w.key, RecordName(w.cfg.Node), q, cannot)
}

// Run serves questions and keeps the record until ctx ends.
func (w *Witness) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", w.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("listening on %s for questions: %w", w.cfg.ListenAddress, err)
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go w.keepRecord(ctx)
	w.log.Info("Answering questions", "listen", ln.Addr().String(), "advertise", w.cfg.AdvertiseAddress)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving questions: %w", err)
	}
	return nil
}

// keepRecord writes the record every Period while that succeeds. After a
// failed write it only reads (a probe) until a read succeeds: a write that
// got no answer may still be committed, at any time, and the witness says
// "cannot" only Grace after its last write went out.
func (w *Witness) keepRecord(ctx context.Context) {
	ticker := w.cfg.Clock.NewTicker(w.cfg.Timing.Period)
	defer ticker.Stop()
	var cur *coordinationv1.Lease
	probing := false
	for {
		if probing {
			probing = !w.probe(ctx, &cur)
		} else if err := w.write(ctx, &cur); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.V(1).Info("Writing the witness record failed; probing the API server", "error", err.Error())
			probing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (w *Witness) probe(ctx context.Context, cur **coordinationv1.Lease) bool {
	sent := w.cfg.Clock.Now()
	reqCtx, cancel := context.WithTimeout(ctx, w.cfg.Timing.Grace)
	defer cancel()
	l, err := w.leases.Get(reqCtx, RecordName(w.cfg.Node), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return false
	}
	w.succeeded(sent)
	if err == nil {
		*cur = l
	} else {
		*cur = nil
	}
	return true
}

func (w *Witness) write(ctx context.Context, cur **coordinationv1.Lease) error {
	next := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: w.cfg.Namespace, Name: RecordName(w.cfg.Node)}}
	echo := ""
	if *cur != nil {
		next = (*cur).DeepCopy()
		// Any revision a response brought was committed before this write
		// goes out, which is all the operator's freshness rule needs.
		echo = (*cur).ResourceVersion
	}
	w.mu.Lock()
	sent := w.cfg.Clock.Now()
	w.state.Sent(sent)
	fill(next, w.id, echo, w.state.CannotAgo(sent), sent)
	w.mu.Unlock()

	reqCtx, cancel := context.WithTimeout(ctx, w.cfg.Timing.Grace)
	defer cancel()
	var written *coordinationv1.Lease
	var err error
	if *cur == nil {
		written, err = w.leases.Create(reqCtx, next, metav1.CreateOptions{})
	} else {
		written, err = w.leases.Update(reqCtx, next, metav1.UpdateOptions{})
	}
	switch {
	case err == nil:
		w.succeeded(sent)
		*cur = written
		return nil
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		// An earlier run's write, or one of ours that timed out, landed:
		// the API server answered, so read it and write again next period.
		w.succeeded(sent)
		*cur = nil
		return w.reread(reqCtx, cur)
	}
	return fmt.Errorf("writing %s: %w", RecordName(w.cfg.Node), err)
}

func (w *Witness) reread(ctx context.Context, cur **coordinationv1.Lease) error {
	l, err := w.leases.Get(ctx, RecordName(w.cfg.Node), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("re-reading %s after a conflict: %w", RecordName(w.cfg.Node), err)
	}
	if err == nil {
		*cur = l
	}
	return nil
}

func (w *Witness) succeeded(sent time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state.Succeeded(sent)
	w.cutOff = false
}
