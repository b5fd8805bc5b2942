package doctor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/irisha/irisha/internal/fsbench"
)

// textWidth is where long lines wrap.
const textWidth = 100

// Text draws the report for a terminal: one block per area, each finding
// with its severity, then what it breaks and how to fix it, the bench's
// figures, and the counts.
func Text(w io.Writer, r Report) error {
	var b bytes.Buffer
	head := "irisha doctor: " + r.Server
	if r.Version != "" {
		head += ", Kubernetes " + r.Version
	}
	if r.Instance != "" {
		head += ", instance " + r.Instance
	}
	b.WriteString(head + "\n")
	area := ""
	for _, f := range r.Findings {
		if f.Area != area {
			area = f.Area
			fmt.Fprintf(&b, "\n%s\n", area)
		}
		label := string(f.Severity)
		wrap(&b, fmt.Sprintf("  %-8s ", label), f.Summary)
		if f.Breaks != "" {
			wrap(&b, "           breaks: ", f.Breaks)
		}
		if f.Fix != "" {
			wrap(&b, "           fix:    ", f.Fix)
		}
	}
	if len(r.Bench) > 0 {
		benchText(&b, r.Bench)
	}
	fmt.Fprintf(&b, "\n%s, %s, %d ok\n", plural(r.Summary.Errors, "error"), plural(r.Summary.Warnings, "warning"), r.Summary.OK)
	_, err := w.Write(b.Bytes())
	return err
}

func benchText(b *bytes.Buffer, results []BenchResult) {
	block := fsbench.DefaultBlockSize
	for _, r := range results {
		if r.Result != nil {
			block = r.Result.BlockBytes
		}
	}
	fmt.Fprintf(b, "\nStorage bench (append %d bytes + fsync, as a journal commit; latency of each)\n", block)
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLASS\tREPLICATION\tNODE\tWRITES\tP50\tP90\tP99\tMAX")
	for _, r := range results {
		if r.Result == nil {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tfailed: %s\n", r.Class, r.Replication, dash(r.Node), r.Error)
			continue
		}
		x := r.Result
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Class, r.Replication, dash(r.Node), x.Writes,
			msText(x.P50Ms), msText(x.P90Ms), msText(x.P99Ms), msText(x.MaxMs))
	}
	_ = tw.Flush()
	for line := range strings.Lines(buf.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// wrap writes text after prefix, wrapped at textWidth, continuation lines
// indented as far as the prefix.
func wrap(b *bytes.Buffer, prefix, text string) {
	indent := strings.Repeat(" ", len(prefix))
	line := prefix
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > textWidth {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}
