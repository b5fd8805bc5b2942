package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/irisha/irisha/internal/quorum"
)

// Pacing of an agent's questions: a round is bounded by AnswerTimeout; the
// next round starts RoundPause after one without a majority.
const (
	AnswerTimeout = time.Second
	RoundPause    = 250 * time.Millisecond
)

// Asker asks the witnesses on an agent's behalf; it is the agent's
// lease.Extender.
type Asker struct {
	// Members returns the witnesses the agent learned while the API server
	// was up; it must not block on the API server.
	Members func() []Member
	// HTTP reaches the witnesses (the default honours HTTPS_PROXY, which is
	// how the simulated cluster routes its peer network).
	HTTP  *http.Client
	From  string
	Clock clock.WithTicker
	Log   logr.Logger
}

// Extend asks in rounds until a strict majority of members answers
// "cannot" (then it returns when that round's questions were sent) or ctx
// ends.
func (a *Asker) Extend(ctx context.Context) (time.Time, bool) {
	for {
		if base, ok := a.round(ctx); ok {
			return base, true
		}
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-a.clock().After(RoundPause):
		}
	}
}

func (a *Asker) clock() clock.WithTicker {
	if a.Clock == nil {
		return clock.RealClock{}
	}
	return a.Clock
}

// round asks every member once, with a fresh nonce, and counts verified
// answers as they come.
func (a *Asker) round(ctx context.Context) (time.Time, bool) {
	members := a.Members()
	if len(members) == 0 {
		return time.Time{}, false
	}
	nonce, err := newNonce()
	if err != nil {
		a.Log.Error(err, "Making a nonce")
		return time.Time{}, false
	}
	base := a.clock().Now()
	ctx, cancel := context.WithTimeout(ctx, AnswerTimeout)
	defer cancel()
	replies := make(chan quorum.Answer, len(members))
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
		go func() {
			cannot, err := a.ask(ctx, m, Question{Nonce: nonce, From: a.From})
			if err != nil {
				a.Log.V(1).Info("No answer from a witness", "witness", m.Name, "error", err.Error())
			}
			replies <- quorum.Answer{Witness: m.Name, Cannot: err == nil && cannot}
		}()
	}
	var answers []quorum.Answer
	for range members {
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case ans := <-replies:
			answers = append(answers, ans)
			if quorum.Majority(names, answers) {
				return base, true
			}
		}
	}
	return time.Time{}, false
}

// ask sends one question and verifies the reply against the member's key.
func (a *Asker) ask(ctx context.Context, m Member, q Question) (bool, error) {
	pub, err := DecodeKey(m.PublicKey)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(q)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.Address+AskPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("witness %s answered %s", m.Name, resp.Status)
	}
	var r Reply
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, maxQuestion)).Decode(&r); err != nil {
		return false, fmt.Errorf("reading the reply of %s: %w", m.Name, err)
	}
	if err := Verify(pub, m.Name, q.Nonce, r); err != nil {
		return false, err
	}
	return r.Cannot, nil
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
