package witnesses_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/irisha/irisha/internal/controller/witnesses"
	"github.com/irisha/irisha/internal/quorum"
	"github.com/irisha/irisha/internal/testenv"
	"github.com/irisha/irisha/internal/witness"
)

// TestJudgementFollowsTheWitnesses runs three real witnesses and the
// observer against a real API server: the witnesses reach it, so they are
// a fresh majority; cut off, they are not; back, they are again, and the
// "cannot" one of them said meanwhile holds failovers for a Lease duration.
func TestJudgementFollowsTheWitnesses(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	proxy, err := testenv.NewProxy(env.APIServerHostPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ns, err := env.Namespace(ctx, "witnesses")
	if err != nil {
		t.Fatal(err)
	}
	direct, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	via := rest.CopyConfig(env.Config)
	via.Host, via.Timeout = "https://"+proxy.Addr(), 2*time.Second
	cs, err := kubernetes.NewForConfig(via)
	if err != nil {
		t.Fatal(err)
	}
	var ws []*witness.Witness
	for i := 1; i <= 3; i++ {
		node := fmt.Sprintf("node-%d", i)
		if err := direct.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
			t.Fatal(err)
		}
		w, err := witness.New(witness.Config{Namespace: ns, Node: node, ListenAddress: "127.0.0.1:0", AdvertiseAddress: fmt.Sprintf("10.1.0.%d:7946", i), Timing: quorum.DefaultTiming()},
			cs.CoordinationV1(), testr.New(t))
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })
	}
	// The observer's first read with records fixes the first membership,
	// and the quiet period below keeps it for an hour: start it once all
	// three records exist, or a loaded machine makes the test wait for a
	// third member that cannot join.
	waitFor(t, ctx, "the three witnesses' records", func() bool {
		list := &coordinationv1.LeaseList{}
		return direct.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{witness.LabelWitness: "true"}) == nil && len(list.Items) == 3
	})
	o := &witnesses.Observer{
		Reader: direct, Client: direct, Namespace: ns, Timing: quorum.DefaultTiming(),
		Quiet: time.Hour, Skew: 2 * time.Second, LongestLease: 10 * time.Second,
		Clock: clock.RealClock{}, Log: testr.New(t), Changes: make(chan event.GenericEvent, 1),
	}
	obsCtx, stopObs := context.WithCancel(ctx)
	obsDone := make(chan error, 1)
	go func() { obsDone <- o.Start(obsCtx) }()
	t.Cleanup(func() { stopObs(); <-obsDone })

	judge := func() quorum.Judgement { return o.Judge(time.Now(), 10*time.Second, 2*time.Second) }
	waitFor(t, ctx, "the three witnesses published as members", func() bool { return len(o.Members()) == 3 })
	waitFor(t, ctx, "a fresh majority", func() bool { return judge().Quorum })
	cm := &corev1.ConfigMap{}
	if err := direct.Get(ctx, client.ObjectKey{Namespace: ns, Name: witnesses.MembershipName}, cm); err != nil || cm.Data[witness.MembersKey] == "" {
		t.Fatalf("the membership is not recorded for a restarted operator: %v", err)
	}

	proxy.Cut()
	waitFor(t, ctx, "no fresh majority once the witnesses are cut off", func() bool { return !judge().Quorum })
	for _, w := range ws {
		waitFor(t, ctx, "every witness answering \"cannot\"", func() bool { return w.Answer(witness.Question{Nonce: "x"}).Cannot })
	}
	lastCannot := time.Now()
	proxy.Heal()
	waitFor(t, ctx, "a fresh majority again", func() bool { return judge().Quorum })
	// Every majority holds a witness that said "cannot" just now: no
	// failover until an extension it gave (a Lease duration and the skew
	// margin) has surely run out.
	if j := judge(); !j.NotBefore.After(lastCannot.Add(11*time.Second)) || j.Allows(time.Now()) {
		t.Fatalf("the judgement allows a failover from %v, %v after the last \"cannot\": %+v", j.NotBefore, j.NotBefore.Sub(lastCannot), j)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
