package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteReports writes report.md, report.json and report.html into dir
// (made if missing).
func WriteReports(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making the report directory: %w", err)
	}
	for _, f := range []struct {
		name   string
		render func(io.Writer, *Report) error
	}{{"report.md", Markdown}, {"report.json", JSON}, {"report.html", HTML}} {
		var b bytes.Buffer
		if err := f.render(&b, r); err != nil {
			return fmt.Errorf("rendering %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	return nil
}

// Failed is an error naming every drill of the report that did not
// recover, lost rows or saw two writers, for a non-zero exit.
func Failed(r *Report) error {
	var errs []error
	for _, s := range r.Setups {
		for _, res := range s.Results {
			switch {
			case !res.Recovered:
				errs = append(errs, fmt.Errorf("%s %s did not recover: %s", s.Name, res.Scenario, res.Error))
			case res.RPORows() > 0:
				errs = append(errs, fmt.Errorf("%s %s lost %d acknowledged rows", s.Name, res.Scenario, res.RPORows()))
			case res.StaleAcks > 0:
				errs = append(errs, fmt.Errorf("%s %s: the old pod acknowledged %d rows after the new one had (two writers)", s.Name, res.Scenario, res.StaleAcks))
			}
		}
	}
	return errors.Join(errs...)
}
