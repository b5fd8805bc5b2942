package witness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/irisha/irisha/internal/quorum"
)

// startWitness serves a real witness's answers on an httptest server; its
// state runs on clk (no record loop: nothing reaches an API server).
func startWitness(t *testing.T, node string, clk *clocktesting.FakeClock) (*Witness, Member) {
	t.Helper()
	w, err := New(Config{Namespace: "irisha-system", Node: node, AdvertiseAddress: "unused:1", Timing: quorum.DefaultTiming(), Clock: clk},
		fake.NewClientset().CoordinationV1(), testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return w, Member{Name: RecordName(node), Node: node, Address: strings.TrimPrefix(srv.URL, "http://"), PublicKey: w.id.publicKey}
}

func TestAskerNeedsAStrictMajorityOfCannot(t *testing.T) {
	start := time.Now()
	cut := clocktesting.NewFakeClock(start)  // witnesses that lost the API server
	fine := clocktesting.NewFakeClock(start) // witnesses that still reach it
	var cutOff, reaching []Member
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		_, m := startWitness(t, n, cut)
		cutOff = append(cutOff, m)
		_, m = startWitness(t, n+"b", fine)
		reaching = append(reaching, m)
	}
	cut.Step(quorum.DefaultTiming().Grace + time.Millisecond)
	for _, c := range []struct {
		name    string
		members []Member
		want    bool
	}{
		{"three of three cannot", cutOff, true},
		{"two of three cannot", []Member{cutOff[0], cutOff[1], reaching[2]}, true},
		{"one of three cannot", []Member{cutOff[0], reaching[1], reaching[2]}, false},
		{"two of four cannot", []Member{cutOff[0], cutOff[1], reaching[0], reaching[1]}, false},
		{"no members", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &Asker{Members: func() []Member { return c.members }, Log: testr.New(t)}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			before := time.Now()
			base, ok := a.Extend(ctx)
			if ok != c.want {
				t.Fatalf("Extend = %v, want %v", ok, c.want)
			}
			if ok && (base.Before(before) || base.After(time.Now())) {
				t.Fatalf("base %v is not when the round was asked (between %v and now)", base, before)
			}
		})
	}
}

// TestForgedAnswersDoNotCount: a server that answers "cannot" to everything
// with a key that is not the member's, or that replays an old signed
// answer, gives no majority.
func TestForgedAnswersDoNotCount(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	_, honest := startWitness(t, "node-1", clk) // reaches the API server: "can"
	_, forgerKey, _ := ed25519.GenerateKey(rand.Reader)
	forger := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var q Question
		_ = json.NewDecoder(r.Body).Decode(&q)
		_ = json.NewEncoder(rw).Encode(Sign(forgerKey, RecordName("node-2"), q, true))
	}))
	defer forger.Close()
	realPub, realKey, _ := ed25519.GenerateKey(rand.Reader)
	replayed := Sign(realKey, RecordName("node-3"), Question{Nonce: "an-old-question"}, true)
	replayer := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(rw).Encode(replayed)
	}))
	defer replayer.Close()
	forgerPub, _, _ := ed25519.GenerateKey(rand.Reader) // the member's key, which the forger lacks
	members := []Member{
		honest,
		{Name: RecordName("node-2"), Address: strings.TrimPrefix(forger.URL, "http://"), PublicKey: EncodeKey(forgerPub)},
		{Name: RecordName("node-3"), Address: strings.TrimPrefix(replayer.URL, "http://"), PublicKey: EncodeKey(realPub)},
	}
	a := &Asker{Members: func() []Member { return members }, Log: testr.New(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if _, ok := a.Extend(ctx); ok {
		t.Fatal("forged and replayed answers made a majority")
	}
}
