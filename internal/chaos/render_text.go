package chaos

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Table writes the fault-domain table for a terminal, as `irisha chaos run`
// and `irisha sandbox` print it: one row per drill, an RTO and an RPO
// column per setup, the writer's and the journal's settings that bound what
// an acknowledged row means, and numbered notes for every result a cell
// cannot fully explain.
func Table(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Chaos drills on %s\n\n", oneLine(whereText(r)))
	t := newFaultTable(r)
	if len(t.Rows) == 0 {
		b.WriteString("No drills were run.\n")
	} else {
		writeTabbed(&b, t)
	}
	fmt.Fprintf(&b, "\nWriter: %s. Journal: %s.\n", oneLine(orUnknown(r.Writer)), oneLine(orUnknown(r.Journal)))
	if r.Timings != "" {
		fmt.Fprintf(&b, "Timings: %s.\n", oneLine(r.Timings))
	}
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "[%d] %s: %s\n", n.Number, oneLine(n.Where(len(t.Setups))), oneLine(n.Text))
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing the chaos table: %w", err)
	}
	return nil
}

func writeTabbed(b *bytes.Buffer, t faultTable) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Headers(), "\t"))
	for _, row := range t.Rows {
		cells := row.Strings()
		for i := range cells {
			cells[i] = oneLine(cells[i])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush() // writes to a bytes.Buffer, which cannot fail
	for line := range strings.Lines(buf.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
}

// whereText names the instance a run drilled ("instance db in namespace
// prod, cluster kind-irisha").
func whereText(r *Report) string {
	return fmt.Sprintf("instance %s in namespace %s, cluster %s",
		orUnknown(r.Instance), orUnknown(r.Namespace), orUnknown(r.Cluster))
}

func orUnknown(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

// oneLine makes a string safe for one terminal table cell: a tab or newline
// would break the columns, and a control character (an escape sequence in
// an error message) could rewrite what the terminal shows.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
