package iris

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// restartParameters are the settings IRIS reads only at startup: a running
// instance that merges a new value keeps the old one in effect until it is
// restarted. The CPF reference says so of gmheap (RACS_gmheap, and the
// "iris stop IRIS restart" advice of ACMF) and of the memory it sizes at
// startup: the database and routine caches (globals, routines) and the
// journal buffers (jrnbufs); the superserver port (DefaultPort) is bound at
// startup.
//
// Assumption, unverified: the real `iris merge` does not say on its
// standard output or in its exit code that a change waits for a restart (the
// docs name none such output), so irisha learns it from this table, which
// the fake IRIS uses too. A parameter missing here and needing a restart is
// merged into iris.cpf and takes effect at the next start; one listed here
// that IRIS could apply live costs a needless planned restart.
var restartParameters = map[string]bool{
	"config/gmheap":       true,
	"config/globals":      true,
	"config/routines":     true,
	"config/jrnbufs":      true,
	"startup/defaultport": true,
}

// NeedsRestart reports whether a new value of [section] key takes effect
// only when IRIS restarts.
func NeedsRestart(section, key string) bool {
	return restartParameters[strings.ToLower(section)+"/"+strings.ToLower(key)]
}

// RestartSettings returns, as "[section] key", the settings that next sets
// to a value prev does not have (prev nil: none set yet) and that take
// effect only at a restart, in next's order. A setting dropped from the
// file needs nothing: a merge sets values and never reverts one.
func RestartSettings(prev, next *MergeFile) []string {
	if next == nil {
		return nil
	}
	var out []string
	for _, s := range next.Sections() {
		for _, kv := range s.Settings {
			if !NeedsRestart(s.Name, kv.Key) {
				continue
			}
			if prev != nil {
				if v, ok := prev.Get(s.Name, kv.Key); ok && v == kv.Value {
					continue
				}
			}
			out = append(out, fmt.Sprintf("[%s] %s", s.Name, kv.Key))
		}
	}
	return slices.Compact(out)
}

// MergeHash identifies a merge text: the operator's Secret and the file the
// agent merged compare by it.
func MergeHash(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:10])
}

// MergeOutcome is what became of a merge file the agent saw.
type MergeOutcome string

// Outcomes of a merge the agent runs.
const (
	// MergeApplied: IRIS runs with the file merged.
	MergeApplied MergeOutcome = "Applied"
	// MergeRestarting: the file was merged into iris.cpf and settings that
	// need a restart changed; the agent restarts IRIS for them.
	MergeRestarting MergeOutcome = "Restarting"
	// MergeRefused: `iris merge` refused the file; IRIS runs on the old
	// configuration.
	MergeRefused MergeOutcome = "Refused"
	// MergeFailed: the merge could not be run (timed out, no iris
	// command); the agent tries again.
	MergeFailed MergeOutcome = "Failed"
)

// MergeReport is the agent's account of the merge file it last acted on, as
// published on the fencing Lease for the operator.
type MergeReport struct {
	// Hash is MergeHash of the file's content.
	Hash    string       `json:"hash"`
	Outcome MergeOutcome `json:"outcome"`
	// Message is IRIS's refusal, or the settings a restart is for.
	Message string `json:"message,omitempty"`
}

// maxReportMessage bounds the message carried on the Lease: an annotation
// is read on every reconcile, and IRIS's refusal names its line early.
const maxReportMessage = 1024

// Format is the report's annotation value.
func (r MergeReport) Format() string {
	if len(r.Message) > maxReportMessage {
		r.Message = r.Message[:maxReportMessage] + "..."
	}
	b, _ := json.Marshal(r) // strings only: cannot fail
	return string(b)
}

// ParseMergeReport reads a report's annotation value.
func ParseMergeReport(s string) (MergeReport, error) {
	var r MergeReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("reading the merge report: %w", err)
	}
	if r.Hash == "" || r.Outcome == "" {
		return r, fmt.Errorf("reading the merge report %q: no hash or outcome", s)
	}
	return r, nil
}
