package kube

import (
	"fmt"
	"io"
	"strings"
)

// Describer writes what kubectl describe writes: "Key:  value" lines,
// indented by level, values aligned, and sections. It remembers the first
// write error (Err) so that callers need not check every line.
type Describer struct {
	w   io.Writer
	err error
}

// NewDescriber writes to w.
func NewDescriber(w io.Writer) *Describer { return &Describer{w: w} }

// Err is the first write error.
func (d *Describer) Err() error { return d.err }

// Fail records err if it is the first.
func (d *Describer) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Line writes s indented by level.
func (d *Describer) Line(level int, s string) {
	if d.err != nil {
		return
	}
	_, d.err = fmt.Fprintf(d.w, "%s%s\n", strings.Repeat("  ", level), s)
}

// Section starts a section: "Name:" and, below it, lines of level+1.
func (d *Describer) Section(level int, name string) { d.Line(level, name+":") }

// valueColumn is where values start, whatever the level, so that a
// description reads as one table.
const valueColumn = 28

// Field writes a key and its value; an empty value prints as "-".
func (d *Describer) Field(level int, key, value string) {
	d.field(level, key, value, valueColumn)
}

func (d *Describer) field(level int, key, value string, column int) {
	if value == "" {
		value = "-"
	}
	label := strings.Repeat("  ", level) + key + ":"
	if len(label) < column-1 {
		label += strings.Repeat(" ", column-1-len(label))
	}
	d.Line(0, label+" "+value)
}

// Map writes keys and their values in the order of keys, the values
// aligned with each other: annotations, whose keys are long.
func (d *Describer) Map(level int, m map[string]string, keys []string) {
	column := valueColumn
	for _, k := range keys {
		if n := 2*level + len(k) + 3; n > column {
			column = n
		}
	}
	for _, k := range keys {
		d.field(level, k, m[k], column)
	}
}

// Indented is a writer that indents every line by level, for a Table
// inside a section.
func (d *Describer) Indented(level int) io.Writer {
	return &indentWriter{d: d, prefix: strings.Repeat("  ", level), atStart: true}
}

type indentWriter struct {
	d       *Describer
	prefix  string
	atStart bool
}

func (iw *indentWriter) Write(b []byte) (int, error) {
	var sb strings.Builder
	for _, c := range string(b) {
		if iw.atStart {
			sb.WriteString(iw.prefix)
			iw.atStart = false
		}
		sb.WriteRune(c)
		if c == '\n' {
			iw.atStart = true
		}
	}
	if _, err := io.WriteString(iw.d.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
