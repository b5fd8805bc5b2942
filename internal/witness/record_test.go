package witness_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/quorum"
	"github.com/irisha/irisha/internal/testenv"
	"github.com/irisha/irisha/internal/witness"
)

// TestRecordAndAnswersFollowTheAPIServer runs a witness against a real API
// server through a proxy that can be cut: its record echoes its previous
// write; cut off, it answers "cannot" only after the grace; back, it
// answers "can" again and its record publishes the last "cannot".
func TestRecordAndAnswersFollowTheAPIServer(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns, err := env.Namespace(ctx, "witness")
	if err != nil {
		t.Fatal(err)
	}
	via := rest.CopyConfig(env.Config)
	via.Host = "https://" + proxy.Addr()
	via.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(via)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	timing := quorum.DefaultTiming()
	w, err := witness.New(witness.Config{Namespace: ns, Node: "node-1", Pod: "witness-x", ListenAddress: "127.0.0.1:0", AdvertiseAddress: "10.1.0.1:7946", Timing: timing},
		cs.CoordinationV1(), testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	record := func() *coordinationv1.Lease {
		l, err := direct.CoordinationV1().Leases(ns).Get(ctx, witness.RecordName("node-1"), metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return l
	}
	var first *coordinationv1.Lease
	waitFor(t, ctx, "a record that echoes a previous write", func() bool {
		first = record()
		return first != nil && first.Annotations[witness.AnnotationEcho] != ""
	})
	if _, err := witness.MemberOf(first); err != nil {
		t.Fatalf("the record does not describe a member: %v", err)
	}
	waitFor(t, ctx, "the next write, echoing this one", func() bool {
		next := record()
		if next == nil || next.ResourceVersion == first.ResourceVersion {
			return false
		}
		c, err := resourceversion.CompareResourceVersion(next.Annotations[witness.AnnotationEcho], first.ResourceVersion)
		return err == nil && c >= 0
	})
	if w.Answer(witness.Question{Nonce: "a"}).Cannot {
		t.Fatal("answers \"cannot\" while it reaches the API server")
	}

	proxy.Cut()
	cutAt := time.Now()
	if w.Answer(witness.Question{Nonce: "b"}).Cannot {
		t.Fatal("answers \"cannot\" at once after a cut, before its grace")
	}
	waitFor(t, ctx, "\"cannot\" after the grace", func() bool { return w.Answer(witness.Question{Nonce: "c"}).Cannot })
	if since := time.Since(cutAt); since < timing.Grace {
		t.Fatalf("said \"cannot\" %v after the cut, before its grace %v", since, timing.Grace)
	}
	lastCannot := time.Now()

	proxy.Heal()
	waitFor(t, ctx, "\"can\" again once healed", func() bool { return !w.Answer(witness.Question{Nonce: "d"}).Cannot })
	waitFor(t, ctx, "a record that publishes the last \"cannot\"", func() bool {
		l := record()
		if l == nil {
			return false
		}
		ms, err := strconv.ParseInt(l.Annotations[witness.AnnotationCannotAgo], 10, 64)
		// Written after the heal, it says the last "cannot" came no
		// earlier than the one this test saw.
		return err == nil && l.Spec.RenewTime.After(lastCannot) && time.Duration(ms)*time.Millisecond <= time.Since(lastCannot)
	})
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
