package witness

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/quorum"
)

// A witness's record is a Lease named RecordPrefix + its node, labelled
// LabelWitness, in the namespace the witnesses run in; the annotations carry
// the protocol's fields. A Lease because it is what Kubernetes' own
// heartbeats are (node Leases), and small.
const (
	RecordPrefix = "irisha-witness-"
	LabelWitness = "irisha.dev/witness"

	// AnnotationEcho: the resourceVersion of the witness's previous
	// successful write of this record (quorum.Record.Echo).
	AnnotationEcho = "witness.irisha.dev/echo"
	// AnnotationCannotAgo: milliseconds since the witness last answered
	// "cannot" (or started), when it sent this write.
	AnnotationCannotAgo = "witness.irisha.dev/cannot-ago-ms"
	// AnnotationAddress: host:port where the witness answers questions.
	AnnotationAddress = "witness.irisha.dev/address"
	// AnnotationPublicKey: base64 ed25519 key its answers are signed with.
	AnnotationPublicKey = "witness.irisha.dev/public-key"
	// AnnotationNode: the node it runs on.
	AnnotationNode = "witness.irisha.dev/node"
)

// MembersKey holds the JSON list of Members in the ConfigMaps the operator
// publishes them in (the membership, and each instance's mirror).
const MembersKey = "members.json"

// RecordName is the record of the witness on node.
func RecordName(node string) string { return RecordPrefix + node }

// Member is a witness as agents know it: what to ask and how to check.
type Member struct {
	Name      string `json:"name"`
	Node      string `json:"node"`
	Address   string `json:"address"`
	PublicKey string `json:"publicKey"`
}

// MemberOf reads the member a record describes.
func MemberOf(l *coordinationv1.Lease) (Member, error) {
	m := Member{Name: l.Name, Node: l.Annotations[AnnotationNode], Address: l.Annotations[AnnotationAddress], PublicKey: l.Annotations[AnnotationPublicKey]}
	if m.Address == "" {
		return m, fmt.Errorf("witness record %s has no %s", l.Name, AnnotationAddress)
	}
	if _, err := DecodeKey(m.PublicKey); err != nil {
		return m, fmt.Errorf("witness record %s: %w", l.Name, err)
	}
	return m, nil
}

// ProtocolRecord is the record as the operator's judgement needs it;
// firstSeen is when the operator first read this version of it.
func ProtocolRecord(l *coordinationv1.Lease, firstSeen time.Time) quorum.Record {
	r := quorum.Record{Witness: l.Name, Echo: l.Annotations[AnnotationEcho], FirstSeen: firstSeen}
	ms, err := strconv.ParseInt(l.Annotations[AnnotationCannotAgo], 10, 64)
	if err != nil || ms < 0 {
		// Unreadable: as if it had just answered "cannot", which only
		// delays failovers.
		ms = 0
	}
	r.CannotAgo = time.Duration(ms) * time.Millisecond
	return r
}

// fill writes this run's fields into the record: the echo of the previous
// write, how long ago it last answered "cannot", where and how to reach it.
func fill(l *coordinationv1.Lease, id identity, echo string, cannotAgo time.Duration, now time.Time) {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	l.Labels[LabelWitness] = "true"
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	// Milliseconds rounded down: the operator reads a shorter time since
	// the last "cannot" than the truth, so it waits longer, never less.
	l.Annotations[AnnotationCannotAgo] = strconv.FormatInt(cannotAgo.Milliseconds(), 10)
	l.Annotations[AnnotationEcho] = echo
	l.Annotations[AnnotationAddress] = id.address
	l.Annotations[AnnotationPublicKey] = id.publicKey
	l.Annotations[AnnotationNode] = id.node
	holder := id.pod
	l.Spec.HolderIdentity = &holder
	renew := metav1.NewMicroTime(now)
	l.Spec.RenewTime = &renew
}

// IsRecord reports whether a Lease is a witness record.
func IsRecord(l *coordinationv1.Lease) bool {
	return l.Labels[LabelWitness] == "true" && strings.HasPrefix(l.Name, RecordPrefix)
}
