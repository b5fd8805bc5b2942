package sim

import (
	"strings"
	"testing"
)

func TestPeerRoutes(t *testing.T) {
	r := &peerRoutes{
		byIP:     map[string]string{"10.1.0.1": "node-1", "10.1.0.2": "node-2", "10.1.0.3": "node-3", "10.1.0.4": "node-4"},
		down:     map[string]bool{"node-4": true},
		isolated: map[string]bool{"node-3": true},
		cuts:     map[nodePair]struct{}{pairOf("node-2", "node-1"): {}},
	}
	for _, tc := range []struct {
		from, target, want, refused string
	}{
		{from: "node-2", target: "10.1.0.2:8080", want: "127.0.0.1:8080"}, // itself
		{from: "node-3", target: "10.1.0.3:8080", want: "127.0.0.1:8080"}, // isolated, but itself
		{from: "node-1", target: "10.1.0.2:1", refused: "between node-1 and node-2 is cut"},
		{from: "node-2", target: "10.1.0.1:1", refused: "between node-2 and node-1 is cut"},
		{from: "node-1", target: "10.1.0.3:1", refused: "node-3 is partitioned from its peers"},
		{from: "node-3", target: "10.1.0.1:1", refused: "node-3 is partitioned from its peers"},
		{from: "node-1", target: "10.1.0.4:1", refused: "node-4 is powered off"},
		{from: "node-4", target: "10.1.0.4:1", refused: "node-4 is powered off"},
		{from: "node-1", target: "10.9.9.9:1", refused: "no route to host 10.9.9.9"},
		{from: "node-1", target: "10.1.0.1", refused: "missing port"},
	} {
		got, err := r.route(tc.from, tc.target)
		switch {
		case tc.refused == "" && (err != nil || got != tc.want):
			t.Errorf("%s -> %s: %q, %v; want %q", tc.from, tc.target, got, err, tc.want)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s -> %s: %q, %v; want refused: %s", tc.from, tc.target, got, err, tc.refused)
		}
	}
}
