package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"
)

// Output is the -o format of a verb.
type Output string

// Output formats.
const (
	Text Output = "text"
	JSON Output = "json"
	YAML Output = "yaml"
)

// AddOutputFlag registers -o/--output on fs.
func AddOutputFlag(fs *pflag.FlagSet, o *Output) {
	*o = Text
	fs.VarP((*outputValue)(o), "output", "o", "output format: text, json or yaml")
}

type outputValue Output

func (v *outputValue) String() string { return string(*v) }
func (v *outputValue) Type() string   { return "format" }
func (v *outputValue) Set(s string) error {
	switch Output(s) {
	case Text, JSON, YAML:
		*v = outputValue(s)
		return nil
	case "wide", "name":
		return fmt.Errorf("%s is a kubectl format irisha does not have: use text, json or yaml", s)
	}
	return fmt.Errorf("unknown format %q: use text, json or yaml", s)
}

// Machine says whether the output is for programs: then progress goes to
// standard error, so that standard output holds exactly one document.
func (o Output) Machine() bool { return o == JSON || o == YAML }

// Print writes v as JSON or YAML. Objects of the scheme get their
// apiVersion and kind (a typed client leaves them empty) and lose their
// managedFields, as kubectl prints them.
func Print(w io.Writer, o Output, s *runtime.Scheme, v any) error {
	if obj, ok := v.(client.Object); ok {
		v = forPrinting(obj, s)
	}
	if list, ok := v.(client.ObjectList); ok {
		printable, err := listForPrinting(list, s)
		if err != nil {
			return err
		}
		v = printable
	}
	var b []byte
	var err error
	switch o {
	case JSON:
		b, err = json.MarshalIndent(v, "", "    ")
		b = append(b, '\n')
	case YAML:
		b, err = yaml.Marshal(v)
	default:
		return fmt.Errorf("no printer for %q", o)
	}
	if err != nil {
		return fmt.Errorf("printing as %s: %w", o, err)
	}
	_, err = w.Write(b)
	return err
}

// forPrinting is obj as kubectl prints it: with its kind, without
// managedFields. obj itself is not changed.
func forPrinting(obj client.Object, s *runtime.Scheme) client.Object {
	out := obj.DeepCopyObject().(client.Object)
	out.SetManagedFields(nil)
	if s != nil && out.GetObjectKind().GroupVersionKind().Empty() {
		if gvk, err := apiutil.GVKForObject(out, s); err == nil {
			out.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
	return out
}

// listForPrinting is list with its kind, and each item as forPrinting
// makes it.
func listForPrinting(list client.ObjectList, s *runtime.Scheme) (client.ObjectList, error) {
	out := list.DeepCopyObject().(client.ObjectList)
	if s != nil {
		if gvk, err := apiutil.GVKForObject(out, s); err == nil {
			out.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
	items, err := meta.ExtractList(out)
	if err != nil {
		return nil, fmt.Errorf("printing a list: %w", err)
	}
	for i, item := range items {
		if obj, ok := item.(client.Object); ok {
			items[i] = forPrinting(obj, s)
		}
	}
	if err := meta.SetList(out, items); err != nil {
		return nil, fmt.Errorf("printing a list: %w", err)
	}
	return out, nil
}

// ForPrinting is obj as Print would print it, for documents that embed
// objects.
func ForPrinting(obj client.Object, s *runtime.Scheme) client.Object {
	if obj == nil {
		return nil
	}
	return forPrinting(obj, s)
}

// Table writes aligned columns as kubectl does: upper-case headers, three
// spaces between columns.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table with the given headers.
func NewTable(w io.Writer, headers ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)}
	t.Row(headers...)
	return t
}

// Row adds a row; empty cells print as "-" so that columns stay readable.
func (t *Table) Row(cells ...string) {
	out := make([]string, len(cells))
	for i, c := range cells {
		c = strings.ReplaceAll(c, "\n", " ")
		if c == "" {
			c = "-"
		}
		out[i] = c
	}
	_, _ = fmt.Fprintln(t.tw, strings.Join(out, "\t"))
}

// Flush writes the table.
func (t *Table) Flush() error { return t.tw.Flush() }

// Age is kubectl's AGE column: "3m", "2d4h", "<unknown>" without a time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// Elapsed is the time a wait has taken, as progress lines show it:
// tenths of a second under a minute ("4.2s"), then "1m05s".
func Elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm%02ds", int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second))
}

// Timestamp prints a time in UTC to the millisecond, "-" when unset.
func Timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
