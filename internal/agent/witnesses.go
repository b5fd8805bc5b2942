package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/irisha/irisha/internal/witness"
)

// membersRefresh is how often the agent re-reads its mirror of the
// witnesses (the operator's quiet period between membership changes counts
// on it: witnesses.AgentRefresh).
const membersRefresh = 10 * time.Second

// witnessMembers is the agent's copy of the witnesses its operator
// mirrored into the instance's namespace, read while the API server
// answers and kept through an outage.
type witnessMembers struct {
	configMaps corev1client.ConfigMapInterface
	name       string
	log        logr.Logger

	mu      sync.Mutex
	members []witness.Member
	// inUse: the mirror exists (or could not be read yet), so this
	// namespace's agents may ride out outages on the witnesses' word.
	inUse bool
}

func newWitnessMembers(configMaps corev1client.ConfigMapInterface, name string, log logr.Logger) *witnessMembers {
	// Until a read says there is no mirror, witnesses may be in use: an
	// agent that took an expired Lease over because one read failed could
	// start a second IRIS beside one kept running on the witnesses' word.
	return &witnessMembers{configMaps: configMaps, name: name, log: log, inUse: true}
}

// load reads the mirror once; errors keep what was read before.
func (m *witnessMembers) load(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, membersRefresh/2)
	defer cancel()
	cm, err := m.configMaps.Get(ctx, m.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		m.set(nil, false)
		return
	case err != nil:
		m.log.V(1).Info("Reading the witnesses failed; keeping the ones read before", "error", err.Error())
		return
	}
	var members []witness.Member
	if err := json.Unmarshal([]byte(cm.Data[witness.MembersKey]), &members); err != nil {
		m.log.Error(err, "The witnesses' mirror is not a JSON list of members; keeping the ones read before", "configMap", m.name)
		return
	}
	m.set(members, true)
}

func (m *witnessMembers) set(members []witness.Member, inUse bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members, m.inUse = members, inUse
}

// run re-reads the mirror until ctx ends.
func (m *witnessMembers) run(ctx context.Context) {
	// The first read is the caller's.
	_ = wait.PollUntilContextCancel(ctx, membersRefresh, false, func(ctx context.Context) (bool, error) {
		m.load(ctx)
		return false, nil
	})
}

// Members is the current copy.
func (m *witnessMembers) Members() []witness.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.members
}

// takesOverExpired: an expired Lease may be taken only where no witnesses
// are in use (lease.Config.TakesOverExpired).
func (m *witnessMembers) takesOverExpired() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.inUse
}

// asker asks the members on the agent's behalf; the HTTP client honours
// the proxy environment like any Go client (the simulated cluster's peer
// network is one).
func (m *witnessMembers) asker(identity string, log logr.Logger) *witness.Asker {
	return &witness.Asker{Members: m.Members, HTTP: &http.Client{Transport: http.DefaultTransport}, From: identity, Log: log}
}
