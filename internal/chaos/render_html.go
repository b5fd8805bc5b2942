package chaos

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var reportHTML string

// reportPage is parsed once: the template is part of the binary, so a
// parse error is a programming error, caught by every test that renders.
var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"markSeconds": markSecondsText,
}).Parse(reportHTML))

// HTML writes the report as one self-contained page: inline CSS, inline
// SVG, no script and nothing fetched, so it can be mailed, archived as a CI
// artefact or printed, and still show every drill's timeline. html/template
// escapes every string that came from the cluster.
func HTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := reportPage.Execute(&b, newHTMLPage(r)); err != nil {
		return fmt.Errorf("rendering the chaos report as HTML: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing the chaos report as HTML: %w", err)
	}
	return nil
}

// htmlPage is what the template shows, everything computed beforehand so
// that the template holds markup and no decisions.
type htmlPage struct {
	Title   string
	Facts   []fact
	Table   faultTable
	Headers []string
	Setups  []htmlSetup
}

type htmlSetup struct {
	Name, Description, W1 string
	Drills                []htmlDrill
}

type htmlDrill struct {
	Setup    string
	Result   *Result
	RTO, RPO string
	Pods     string
	Concerns []string
	Marks    []Mark
	Timeline timeline
	// HatchID names this drawing's hatch pattern; SVG ids are global to
	// the page, so each drawing needs its own.
	HatchID string
}

func newHTMLPage(r *Report) htmlPage {
	t := newFaultTable(r)
	p := htmlPage{
		Title:   "Chaos report: " + r.Namespace + "/" + r.Instance,
		Facts:   facts(r),
		Table:   t,
		Headers: t.Headers(),
	}
	for si, s := range r.Setups {
		hs := htmlSetup{Name: s.Name, Description: s.Description, W1: s.W1}
		for di := range s.Results {
			res := &s.Results[di]
			hs.Drills = append(hs.Drills, htmlDrill{
				Setup: s.Name, Result: res,
				RTO: rtoText(res), RPO: rpoText(res), Pods: podsText(res),
				Concerns: concerns(res), Marks: orderedMarks(res),
				Timeline: newTimeline(res),
				HatchID:  fmt.Sprintf("hatch-%d-%d", si, di),
			})
		}
		p.Setups = append(p.Setups, hs)
	}
	return p
}

// RTOClass and RPOClass colour a table cell: what recovered, what did not,
// and what nobody checked, which is neither good nor bad news.
func (c outcomeCells) RTOClass() string {
	switch {
	case !c.Ran:
		return "none"
	case c.Recovered:
		return "good"
	default:
		return "bad"
	}
}

func (c outcomeCells) RPOClass() string {
	switch {
	case !c.Ran:
		return "none"
	case !c.Checked:
		return "unknown"
	case c.RPO == "0":
		return "good"
	default:
		return "bad"
	}
}
