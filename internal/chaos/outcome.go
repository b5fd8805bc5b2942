package chaos

import (
	"fmt"
	"slices"
	"strings"
)

// This file puts a drill's outcome into words, once, so that the terminal
// table, the Markdown and the HTML page never disagree on what a result
// means.

// faulted reports whether the drill's fault was injected at all. A drill
// that could not start (no second node to drain to, no snapshot class) has
// neither a fault time nor a fault mark; saying it "did not recover" would
// blame the deployment for a fault it never met.
func faulted(r *Result) bool {
	if !r.FaultAt.IsZero() {
		return true
	}
	for _, m := range r.Marks {
		if m.Kind == MarkFault {
			return true
		}
	}
	return false
}

// rtoText is the RTO as a user reads it: to a tenth of a second, or why
// there is none. A drill that never wrote again says how long it was
// watched, so "did not recover" is never mistaken for "slow".
func rtoText(r *Result) string {
	switch {
	case r.RTOSeconds != nil:
		return fmt.Sprintf("%.1f s", *r.RTOSeconds)
	case !faulted(r):
		return "did not run"
	case r.WindowSeconds > 0:
		return "did not recover within " + capText(r.WindowSeconds)
	default:
		return "did not recover"
	}
}

// rpoText is the rows lost, or "not checked" when the rows were never read
// back: an unread table is not a table without losses, so it is never "0".
func rpoText(r *Result) string {
	if r.RPORows() < 0 {
		return "not checked"
	}
	return rowsText(r.RPORows())
}

func rowsText(n int) string {
	switch n {
	case 0:
		return "0"
	case 1:
		return "1 row"
	default:
		return fmt.Sprintf("%d rows", n)
	}
}

// capText is a duration cap in seconds without a pointless ".0" ("120 s",
// "90.5 s").
func capText(seconds float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", seconds), ".0") + " s"
}

// markSecondsText is a mark's offset from the fault ("+5.1 s").
func markSecondsText(seconds float64) string {
	return fmt.Sprintf("%+.1f s", seconds)
}

// concerns are what a reader must be told about a result beyond its RTO and
// RPO cells: why it failed or was not measured, why its rows were not read
// back, and whether two pods acknowledged writes at once. Empty when there
// is nothing to add.
func concerns(r *Result) []string {
	var out []string
	if r.Error != "" {
		out = append(out, r.Error)
	}
	if !r.Checked && r.Error == "" {
		out = append(out, "the rows were not read back, and no reason was recorded")
	}
	if r.StaleAcks > 0 {
		out = append(out, fmt.Sprintf("%s acknowledged by the old pod after the new pod's first: two writers at once",
			plural(r.StaleAcks, "write")))
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// podsText is the pod that served before the fault and the one serving
// after it, with their nodes when known ("db-0 on node-2 → db-0 on node-3").
func podsText(r *Result) string {
	old := onNode(r.OldPod, r.Node)
	if r.NewPod == "" {
		return old + " → none"
	}
	return old + " → " + onNode(r.NewPod, r.NewNode)
}

func onNode(pod, node string) string {
	if pod == "" {
		pod = "unknown pod"
	}
	if node == "" {
		return pod
	}
	return pod + " on " + node
}

// orderedMarks is a result's marks in MarkOrder (the order a recovery
// passes them), marks of kinds MarkOrder does not know last in the order
// recorded, so that a new kind is shown rather than dropped.
func orderedMarks(r *Result) []Mark {
	out := make([]Mark, 0, len(r.Marks))
	for _, kind := range MarkOrder {
		for _, m := range r.Marks {
			if m.Kind == kind {
				out = append(out, m)
			}
		}
	}
	for _, m := range r.Marks {
		if !slices.Contains(MarkOrder, m.Kind) {
			out = append(out, m)
		}
	}
	return out
}
