package chaos

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// Markdown writes the report for a pull request or an issue: the run's
// facts, the fault-domain table, its notes, then per setup per drill what
// happened: the node, the pods, each mark of the recovery with its second,
// and the writer's counts.
func Markdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Chaos report: %s\n\n", md(r.Namespace+"/"+r.Instance))
	for _, f := range facts(r) {
		fmt.Fprintf(&b, "- %s: %s\n", f.Name, md(f.Value))
	}
	t := newFaultTable(r)
	b.WriteString("\n## Fault domains\n\n")
	if len(t.Rows) == 0 {
		b.WriteString("No drills were run.\n")
	} else {
		markdownTable(&b, t)
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "- [%d] %s: %s\n", n.Number, md(n.Where(len(t.Setups))), md(n.Text))
	}
	for _, s := range r.Setups {
		fmt.Fprintf(&b, "\n## %s\n", md(s.Name))
		if s.W1 != "" {
			fmt.Fprintf(&b, "\nSingle writer (W1): %s\n", md(s.W1))
		}
		if s.Description != "" {
			fmt.Fprintf(&b, "\n%s\n", md(s.Description))
		}
		for i := range s.Results {
			markdownDrill(&b, &s.Results[i])
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing the chaos report as Markdown: %w", err)
	}
	return nil
}

func markdownTable(b *bytes.Buffer, t faultTable) {
	headers := t.Headers()
	row := func(cells []string) {
		for i := range cells {
			cells[i] = md(cells[i])
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
	row(headers)
	rule := make([]string, len(headers))
	for i := range rule {
		rule[i] = "---"
		if i >= 3 {
			rule[i] = "--:" // figures line up on the right
		}
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(rule, " | "))
	for _, r := range t.Rows {
		row(r.Strings())
	}
}

func markdownDrill(b *bytes.Buffer, r *Result) {
	fmt.Fprintf(b, "\n### %s", md(string(r.Scenario)))
	if r.FailureDomain != "" {
		fmt.Fprintf(b, ": %s", md(r.FailureDomain))
	}
	b.WriteString("\n\n")
	if r.MitigatedBy != "" {
		fmt.Fprintf(b, "- Mitigated by: %s\n", md(r.MitigatedBy))
	}
	fmt.Fprintf(b, "- RTO: %s; RPO: %s\n", rtoText(r), rpoText(r))
	if r.Node != "" {
		fmt.Fprintf(b, "- Node: %s\n", md(r.Node))
	}
	fmt.Fprintf(b, "- Pod: %s\n", md(podsText(r)))
	fmt.Fprintf(b, "- Writes: %d acknowledged, %d failed; stale acks: %d\n", r.Acknowledged, r.Failed, r.StaleAcks)
	if r.Checked && len(r.Lost) > 0 {
		fmt.Fprintf(b, "- Lost rows (sequence numbers): %s\n", seqList(r.Lost))
	}
	if r.Error != "" {
		fmt.Fprintf(b, "- Error: %s\n", md(r.Error))
	}
	marks := orderedMarks(r)
	if len(marks) == 0 {
		return
	}
	b.WriteString("\nTimeline:\n\n")
	for _, m := range marks {
		fmt.Fprintf(b, "- %s %s", md(string(m.Kind)), markSecondsText(m.Seconds))
		if m.Detail != "" {
			fmt.Fprintf(b, ": %s", md(m.Detail))
		}
		b.WriteString("\n")
	}
}

// lostShown bounds the lost rows listed: the count is in the table, the
// first few are enough to find them in the writer's log.
const lostShown = 20

func seqList(seqs []int64) string {
	var parts []string
	for i, s := range seqs {
		if i == lostShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(seqs)-lostShown))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, ", ")
}

type fact struct{ Name, Value string }

// facts are the run's circumstances, in the order a reader needs them;
// unrecorded ones are left out rather than shown empty, except the writer
// and journal settings, without which an RPO cannot be judged.
func facts(r *Report) []fact {
	f := []fact{{"Cluster", orUnknown(r.Cluster)}, {"Instance", r.Instance + " in namespace " + r.Namespace}}
	if r.Version != "" {
		f = append(f, fact{"irisha version", r.Version})
	}
	if !r.Started.IsZero() {
		f = append(f, fact{"Started", r.Started.UTC().Format(time.DateTime + " MST")})
	}
	f = append(f, fact{"Writer", orUnknown(r.Writer)}, fact{"Journal", orUnknown(r.Journal)})
	if r.Timings != "" {
		f = append(f, fact{"Timings", r.Timings})
	}
	return f
}

// md escapes text for Markdown, so that a name or an error message reads
// as written: no stray emphasis, no broken table cell or list item, no raw
// HTML.
func md(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune("\\`*_[]<>|#", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
