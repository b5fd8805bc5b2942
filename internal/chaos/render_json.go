package chaos

import (
	"encoding/json"
	"fmt"
	"io"
)

// JSON writes the report as indented JSON, every field of every drill, for
// scripts and for comparing runs.
func JSON(w io.Writer, r *Report) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the chaos report as JSON: %w", err)
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("writing the chaos report as JSON: %w", err)
	}
	return nil
}
