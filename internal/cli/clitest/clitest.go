// Package clitest is what the integration tests of the irisha verbs share:
// a real kube-apiserver and etcd (internal/testenv) with irisha's CRDs and
// the VolumeSnapshot API, and a way to run `irisha ...` against it exactly
// as a user would, flags and all. No operator runs: a test plays it by
// writing status.
package clitest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/cli"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/sim/storage"
	"github.com/irisha/irisha/internal/testenv"
)

// Env is a running control plane for CLI tests.
type Env struct {
	*testenv.Env
	// Client reads and writes everything, the snapshot API included.
	Client client.Client
}

// Start boots the control plane with the VolumeSnapshot CRDs and classes
// of the simulated block store, and stops it when the test ends. It skips
// the test under -short.
func Start(t *testing.T) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	s, err := kube.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := storage.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	return &Env{Env: env, Client: c}
}

// Namespace creates a fresh namespace.
func (e *Env) Namespace(t *testing.T) string {
	t.Helper()
	ns, err := e.Env.Namespace(context.Background(), "cli")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Run is a finished `irisha ...`.
type Run struct {
	Out, Err string
	Error    error
}

// Irisha runs `irisha args...` with the admin kubeconfig (unless args
// name another) to the end.
func (e *Env) Irisha(ctx context.Context, args ...string) Run {
	p := e.Start(ctx, args...)
	return p.Wait()
}

// Process is an `irisha ...` still running.
type Process struct {
	out, err *Buffer
	done     chan error
}

// Start runs `irisha args...` in the background, for a test that plays
// the operator while the verb waits.
func (e *Env) Start(ctx context.Context, args ...string) *Process {
	p := &Process{out: &Buffer{}, err: &Buffer{}, done: make(chan error, 1)}
	if !hasFlag(args, "--kubeconfig") {
		args = append(args, "--kubeconfig", e.Kubeconfig)
	}
	root := cli.NewRootCommand(strings.NewReader(""), p.out, p.err)
	root.SetArgs(args)
	go func() { p.done <- root.ExecuteContext(ctx) }()
	return p
}

// Wait waits for the process to end.
func (p *Process) Wait() Run {
	err := <-p.done
	return Run{Out: p.out.String(), Err: p.err.String(), Error: err}
}

// Out is what the process printed on standard output so far.
func (p *Process) Out() string { return p.out.String() }

// WaitOutput waits until standard output holds s.
func (p *Process) WaitOutput(t *testing.T, s string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		select {
		case err := <-p.done:
			p.done <- err
			return true, nil
		default:
		}
		return strings.Contains(p.out.String(), s), nil
	})
	if err != nil || !strings.Contains(p.out.String(), s) {
		t.Fatalf("the output never showed %q; it is:\n%s\nstandard error:\n%s", s, p.out.String(), p.err.String())
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// Buffer is a bytes.Buffer safe for a writer and a reader at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
