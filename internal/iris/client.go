package iris

import (
	"context"
)

// InstanceName is the instance of every IRIS container.
const InstanceName = "IRIS"

// Client drives the local IRIS instance through its `iris` command. It runs
// as the instance owner (irisowner): OS authentication lets `iris session`
// in without a password, and qlist reports "indeterminate" to anyone else.
type Client struct {
	// Runner runs the commands; an ExecRunner when nil.
	Runner Runner
	// Iris is the iris command; "iris" on PATH when empty.
	Iris string
}

// Status runs `iris qlist IRIS`.
func (c *Client) Status(ctx context.Context) (Instance, error) {
	out, err := c.expectZero(ctx, "qlist", InstanceName)
	if err != nil {
		return Instance{}, err
	}
	return ParseQlist(out)
}

// Start runs `iris start IRIS`, which returns once the instance is up. In a
// container iris-main starts IRIS; this is for one started with --up false.
func (c *Client) Start(ctx context.Context) error {
	_, err := c.expectZero(ctx, "start", InstanceName)
	return err
}

// Stop runs a graceful `iris stop IRIS quietly` ("quietly": no prompt). It
// can take up to [Startup] ShutdownTimeout, after which IRIS forces the stop
// itself; bound it with ctx.
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.expectZero(ctx, "stop", InstanceName, "quietly")
	return err
}

// Force runs `iris force IRIS`, the last resort before SIGKILL: the next
// start runs crash recovery.
func (c *Client) Force(ctx context.Context) error {
	_, err := c.expectZero(ctx, "force", InstanceName)
	return err
}

// Merge applies a merge file to the instance: `iris merge IRIS <file>`. The
// target CPF is IRIS's default, $ISC_DATA_DIRECTORY/iris.cpf. On a bad
// file, IRIS names the failing line in the error's output.
func (c *Client) Merge(ctx context.Context, file string) error {
	_, err := c.expectZero(ctx, "merge", InstanceName, file)
	return err
}

func (c *Client) run(ctx context.Context, args ...string) (string, int, error) {
	r := c.Runner
	if r == nil {
		r = ExecRunner{}
	}
	name := c.Iris
	if name == "" {
		name = "iris"
	}
	return r.Run(ctx, name, args...)
}

func (c *Client) expectZero(ctx context.Context, args ...string) (string, error) {
	out, code, err := c.run(ctx, args...)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, &CommandError{Args: args, Code: code, Output: out}
	}
	return out, nil
}
