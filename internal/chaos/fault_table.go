package chaos

import (
	"fmt"
	"strings"
)

// faultTable is the article's fault-domain table, laid out once for every
// renderer: one row per drill, an RTO and an RPO cell per setup, and
// numbered notes for what a cell cannot say (an error, why the rows were
// not read back, two writers).
type faultTable struct {
	Setups []string
	Rows   []faultRow
	Notes  []tableNote
}

// faultRow is one drill across the setups. Domain and MitigatedBy come from
// the first setup that ran it (irisha's, in the sandbox); a setup that
// recovers differently says so in its own section.
type faultRow struct {
	Domain      string
	Scenario    Scenario
	MitigatedBy string
	Cells       []outcomeCells // one per faultTable.Setups
}

// outcomeCells are one setup's RTO and RPO for one drill.
type outcomeCells struct {
	// Ran: the setup has this drill among its results.
	Ran       bool
	RTO, RPO  string
	Recovered bool
	Checked   bool
	// Note is the number of the note about this result, 0 when none;
	// NoteOnRPO says which cell carries its marker (the one it explains).
	Note      int
	NoteOnRPO bool
}

type tableNote struct {
	Number int
	Setup  string
	Drill  Scenario
	Text   string
}

// notRun fills a setup's cells for a drill only another setup ran.
const notRun = "-"

func newFaultTable(r *Report) faultTable {
	t := faultTable{}
	index := map[string]int{} // drill key -> row
	for _, s := range r.Setups {
		t.Setups = append(t.Setups, s.Name)
	}
	for si, s := range r.Setups {
		seen := map[Scenario]int{}
		for ri := range s.Results {
			res := &s.Results[ri]
			// The nth run of a drill in one setup lines up with the nth in
			// another, so a drill run twice keeps two rows.
			seen[res.Scenario]++
			key := fmt.Sprintf("%s#%d", res.Scenario, seen[res.Scenario])
			row, ok := index[key]
			if !ok {
				row = len(t.Rows)
				index[key] = row
				t.Rows = append(t.Rows, faultRow{
					Domain: res.FailureDomain, Scenario: res.Scenario, MitigatedBy: res.MitigatedBy,
					Cells: emptyCells(len(r.Setups)),
				})
			}
			c := outcomeCells{Ran: true, RTO: rtoText(res), RPO: rpoText(res),
				Recovered: res.RTOSeconds != nil, Checked: res.Checked}
			if says := concerns(res); len(says) > 0 {
				c.Note = len(t.Notes) + 1
				c.NoteOnRPO = !res.Checked || res.RTOSeconds != nil
				t.Notes = append(t.Notes, tableNote{Number: c.Note, Setup: s.Name, Drill: res.Scenario,
					Text: strings.Join(says, "; ")})
			}
			t.Rows[row].Cells[si] = c
		}
	}
	return t
}

func emptyCells(n int) []outcomeCells {
	cells := make([]outcomeCells, n)
	for i := range cells {
		cells[i] = outcomeCells{RTO: notRun, RPO: notRun}
	}
	return cells
}

// Headers are the table's column titles. With one setup the outcome
// columns are plain; with several each carries its setup's name.
func (t faultTable) Headers() []string {
	h := []string{"Failure domain", "Drill", "Mitigated by"}
	for _, name := range t.Setups {
		prefix := ""
		if len(t.Setups) > 1 {
			prefix = name + " "
		}
		h = append(h, prefix+"RTO", prefix+"RPO (rows lost)")
	}
	return h
}

// Strings is a row's cells as text, note markers included.
func (row faultRow) Strings() []string {
	s := []string{row.Domain, string(row.Scenario), row.MitigatedBy}
	for _, c := range row.Cells {
		s = append(s, c.RTOText(), c.RPOText())
	}
	return s
}

// RTOText and RPOText are the cells with their note marker ("not checked
// [1]").
func (c outcomeCells) RTOText() string { return withMarker(c.RTO, c.Note, c.Note > 0 && !c.NoteOnRPO) }
func (c outcomeCells) RPOText() string { return withMarker(c.RPO, c.Note, c.Note > 0 && c.NoteOnRPO) }

func withMarker(text string, note int, marked bool) string {
	if !marked {
		return text
	}
	return fmt.Sprintf("%s [%d]", text, note)
}

// Where names a note's drill, with its setup when there are several.
func (n tableNote) Where(setups int) string {
	if setups > 1 {
		return n.Setup + ", " + string(n.Drill)
	}
	return string(n.Drill)
}
