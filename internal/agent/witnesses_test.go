package agent

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/irisha/irisha/internal/witness"
)

// TestWitnessMembersErrOnTheSafeSide: an agent takes an expired Lease over
// only once a read has shown that no witnesses are in use; a failed read
// keeps what was read before.
func TestWitnessMembersErrOnTheSafeSide(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	failing := true
	cs.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	m := newWitnessMembers(cs.CoreV1().ConfigMaps("db"), "iris-witnesses", testr.New(t))
	m.load(ctx)
	if m.takesOverExpired() {
		t.Fatal("takes an expired Lease over before any read succeeded")
	}
	failing = false
	m.load(ctx)
	if !m.takesOverExpired() || m.Members() != nil {
		t.Fatalf("no mirror: takes over %v, members %v; want true and none", m.takesOverExpired(), m.Members())
	}
	_, err := cs.CoreV1().ConfigMaps("db").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "iris-witnesses"},
		Data:       map[string]string{witness.MembersKey: `[{"name":"irisha-witness-node-1","node":"node-1","address":"10.1.0.1:7946","publicKey":"k"}]`},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.load(ctx)
	if m.takesOverExpired() || len(m.Members()) != 1 || m.Members()[0].Address != "10.1.0.1:7946" {
		t.Fatalf("with the mirror: takes over %v, members %+v", m.takesOverExpired(), m.Members())
	}
	failing = true
	m.load(ctx)
	if m.takesOverExpired() || len(m.Members()) != 1 {
		t.Fatalf("a failed read lost what was read: takes over %v, members %+v", m.takesOverExpired(), m.Members())
	}
}
