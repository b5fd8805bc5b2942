package chaos

import (
	"io"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*RunOptions)
		want string // "" when valid
	}{
		{"the defaults with an instance", func(o *RunOptions) {}, ""},
		{"no instance", func(o *RunOptions) { o.Instance = "" }, "--instance NAME"},
		{"an unknown drill", func(o *RunOptions) { o.Scenarios = "iris-stop,meteor" }, `unknown scenario "meteor"`},
		{"a bad output", func(o *RunOptions) { o.Output = "yaml" }, "want table or json"},
		{"a zero cap", func(o *RunOptions) { o.RecoveryTimeout = 0 }, "must be positive"},
		{"a fault command that names no node", func(o *RunOptions) {
			o.Scenarios, o.NodeFaultCommand = "node-kill", "gcloud compute instances stop"
		}, "{{.Node}}"},
		{"a fault command", func(o *RunOptions) {
			o.Scenarios, o.NodeFaultCommand = "node-kill", "./faults.sh {{.Action}} {{.Node}}"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewRunOptions(io.Discard, io.Discard)
			o.Instance = "iris"
			tc.set(o)
			_, _, err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The command's help is the documentation a user reads first: every
// drill is named with an example, and node faults say how.
func TestHelp(t *testing.T) {
	cmd := NewCommand(io.Discard, io.Discard)
	run, _, err := cmd.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	help := run.Long + run.Example
	for _, want := range []string{"iris-stop", "pod-delete", "drain", "node-kill", "node-partition", "backup-restore", "--node-fault-command", "pods/exec"} {
		if !strings.Contains(help, want) {
			t.Errorf("irisha chaos run --help does not mention %s", want)
		}
	}
}
