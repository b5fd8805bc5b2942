package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/template"
	"time"
)

// Node fault actions a CommandFaults template is rendered with.
const (
	ActionKill      = "kill"
	ActionPartition = "partition"
	ActionHeal      = "heal"
)

// commandTimeout bounds one node fault command (a cloud CLI stopping a VM
// takes a minute or two).
const commandTimeout = 5 * time.Minute

// CommandFaults does node faults with a user's command: a Go template
// rendered with .Action (kill, partition or heal) and .Node, run by sh -c,
// e.g. `gcloud compute instances {{if eq .Action "heal"}}start{{else}}stop{{end}} {{.Node}}`.
// A non-zero exit fails the drill with the command's output.
type CommandFaults struct {
	tmpl *template.Template
}

// NewCommandFaults parses the template; it must mention .Node.
func NewCommandFaults(text string) (*CommandFaults, error) {
	if !strings.Contains(text, ".Node") {
		return nil, fmt.Errorf("the node fault command %q does not mention {{.Node}}: it would not know which node to break", text)
	}
	t, err := template.New("node-fault").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing the node fault command: %w", err)
	}
	return &CommandFaults{tmpl: t}, nil
}

// Render is the command line for an action on a node.
func (f *CommandFaults) Render(action, node string) (string, error) {
	var b strings.Builder
	if err := f.tmpl.Execute(&b, struct{ Action, Node string }{action, node}); err != nil {
		return "", fmt.Errorf("rendering the node fault command: %w", err)
	}
	return b.String(), nil
}

func (f *CommandFaults) run(ctx context.Context, action, node string) error {
	line, err := f.Render(action, node)
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) == "" {
		return nil // the template has nothing to do for this action
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = os.Environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: `%s`: %w: %s", action, node, line, err, trim(bytes.TrimSpace(out.Bytes())))
	}
	return nil
}

// Kill implements NodeFaults.
func (f *CommandFaults) Kill(ctx context.Context, node string) error {
	return f.run(ctx, ActionKill, node)
}

// Partition implements NodeFaults.
func (f *CommandFaults) Partition(ctx context.Context, node string) error {
	return f.run(ctx, ActionPartition, node)
}

// Heal implements NodeFaults.
func (f *CommandFaults) Heal(ctx context.Context, node string) error {
	return f.run(ctx, ActionHeal, node)
}
