package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
)

// TestRunCommandReturnsTheExitCode: `agent run` hands the run's exit code
// back to main as an ExitError instead of exiting itself, so main's
// deferred cleanups run first; and it names itself in the Lease as the
// operator does.
func TestRunCommandReturnsTheExitCode(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	runErr := errors.New("acquiring the fencing Lease: forbidden")
	for _, tc := range []struct {
		name     string
		code     int
		err      error
		wantCode int // ExitError.Code; 0: no ExitError
		wantErr  error
	}{
		{name: "IRIS's failure", code: 3, wantCode: 3},
		{name: "fenced", code: ExitFenced, wantCode: ExitFenced},
		{name: "clean stop", code: 0},
		{name: "run failed", code: 2, err: runErr, wantErr: runErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Config
			cmd := newRunCommand(func(_ context.Context, cfg Config, _ logr.Logger) (int, error) {
				got = cfg
				return tc.code, tc.err
			})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			cmd.SetArgs([]string{"--namespace", "ns", "--pod-name", "pod-a", "--pod-uid", "uid-a",
				"--lease-name", "iris-fencing", "--instance-name", "iris", "--kubeconfig", kubeconfig,
				"--", "/iris-main"})
			err := cmd.ExecuteContext(t.Context())

			var exit *ExitError
			switch {
			case tc.wantCode != 0:
				if !errors.As(err, &exit) || exit.Code != tc.wantCode {
					t.Errorf("err = %v, want an ExitError with code %d", err, tc.wantCode)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || errors.As(err, &exit) {
					t.Errorf("err = %v, want the run's error itself", err)
				}
			case err != nil:
				t.Errorf("err = %v, want nil for exit code 0", err)
			}
			if got.Identity != "pod-a_uid-a" || got.PodName != "pod-a" {
				t.Errorf("identity %q, pod %q; want pod-a_uid-a, pod-a", got.Identity, got.PodName)
			}
		})
	}
}
