package doctor

import (
	"cmp"
	"slices"
)

// Severity of a finding.
type Severity string

// Severities, from fine to blocking.
const (
	OK      Severity = "ok"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Areas group findings on the screen, in this order.
const (
	AreaNodes      = "Nodes"
	AreaKubernetes = "Kubernetes"
	AreaStorage    = "Storage"
	AreaSnapshots  = "Snapshots"
	AreaLonghorn   = "Longhorn"
	AreaOperator   = "Operator"
	AreaInstance   = "Instance"
)

var areaOrder = []string{AreaNodes, AreaKubernetes, AreaStorage, AreaSnapshots, AreaLonghorn, AreaOperator, AreaInstance}

// Finding is one thing doctor checked.
type Finding struct {
	// Check names the rule, stable for scripts (e.g. "storage.replication").
	Check string `json:"check"`
	Area  string `json:"area"`
	// Subject is the object the finding is about, kind/name, if any.
	Subject  string   `json:"subject,omitempty"`
	Severity Severity `json:"severity"`
	// Summary is what was found.
	Summary string `json:"summary"`
	// Breaks is what it breaks, for warnings and errors.
	Breaks string `json:"breaks,omitempty"`
	// Fix is how to fix it.
	Fix string `json:"fix,omitempty"`
}

// Report is doctor's output.
type Report struct {
	Server   string `json:"server"`
	Version  string `json:"version,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Findings in area order, errors first within an area.
	Findings []Finding     `json:"findings"`
	Bench    []BenchResult `json:"bench,omitempty"`
	Summary  Summary       `json:"summary"`
}

// Summary counts the findings by severity.
type Summary struct {
	OK       int `json:"ok"`
	Warnings int `json:"warnings"`
	Errors   int `json:"errors"`
}

// Rule is one check: a pure function of what was read.
type Rule func(*Snapshot) []Finding

// Rules are every check doctor runs, in no particular order (the report
// sorts).
var Rules = []Rule{
	NodesRule,
	OutOfServiceTaintRule,
	ReplicationRule,
	ExpansionRule,
	SnapshotAPIRule,
	SnapshotControllerRule,
	SnapshotClassRule,
	LonghornRule,
	OperatorRule,
	InstanceRule,
}

// Evaluate runs the rules on s and builds the report.
func Evaluate(s *Snapshot, rules []Rule) Report {
	r := Report{Server: s.Server}
	if s.Version != nil {
		r.Version = s.Version.GitVersion
	}
	if s.Target != nil {
		r.Instance = s.Target.Namespace + "/" + s.Target.Name
	}
	for _, rule := range rules {
		r.Findings = append(r.Findings, rule(s)...)
	}
	r.tidy()
	return r
}

// tidy sorts the findings (by area, errors first, otherwise in the order
// the rules gave them) and counts them.
func (r *Report) tidy() {
	rank := map[Severity]int{Error: 0, Warning: 1, OK: 2}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(slices.Index(areaOrder, a.Area), slices.Index(areaOrder, b.Area)),
			cmp.Compare(rank[a.Severity], rank[b.Severity]),
		)
	})
	r.Summary = Summary{}
	for _, f := range r.Findings {
		switch f.Severity {
		case OK:
			r.Summary.OK++
		case Warning:
			r.Summary.Warnings++
		case Error:
			r.Summary.Errors++
		}
	}
}

// unreadableFinding is the warning of a rule that could not read what it
// checks.
func unreadableFinding(check, area, what, why string) Finding {
	return Finding{Check: check, Area: area, Severity: Warning,
		Summary: "could not read " + what + ": " + why,
		Breaks:  "this check did not run",
		Fix:     "run doctor with rights to list " + what + " (cluster-wide read)"}
}
