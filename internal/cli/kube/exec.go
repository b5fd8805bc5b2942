package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// maxErrorOutput is how much of a failed command's output its error quotes.
const maxErrorOutput = 2048

// Execer runs commands in containers as `kubectl exec` does (it is
// internal/chaos's Execer on a real cluster): over a WebSocket, falling
// back to SPDY when the upgrade fails (an API server older than 1.30, or a
// proxy in the way), with standard output and error captured.
type Execer struct {
	config *rest.Config
	cs     kubernetes.Interface
}

// NewExecer returns an Execer on the cluster cfg reaches.
func NewExecer(cfg *rest.Config) (*Execer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &Execer{config: rest.CopyConfig(cfg), cs: cs}, nil
}

// Exec runs argv in container (""; the pod's only one) of pod and returns
// its standard output. stdin, if not nil, is the command's standard input,
// closed at its end. A command that exits non-zero is an error wrapping a
// k8s.io/client-go/util/exec.CodeExitError (its exit code), quoting its
// output. The pod is read first, as kubectl does, so a missing pod is the
// API server's NotFound naming it (through the streaming upgrade it would
// be an untyped "unable to upgrade connection").
func (e *Execer) Exec(ctx context.Context, namespace, pod, container string, stdin []byte, argv ...string) ([]byte, error) {
	wrap := func(err error) error {
		return fmt.Errorf("exec %q in pod %s/%s: %w", strings.Join(argv, " "), namespace, pod, err)
	}
	p, err := e.cs.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return nil, wrap(err)
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil, wrap(apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", p.Status.Phase)))
	}
	req := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container, Command: argv, Stdin: stdin != nil, Stdout: true, Stderr: true,
		}, scheme.ParameterCodec)
	executor, err := e.executor(req.URL())
	if err != nil {
		return nil, wrap(err)
	}
	var stdout, stderr bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
	if stdin != nil {
		opts.Stdin = bytes.NewReader(stdin)
	}
	err = executor.StreamWithContext(ctx, opts)
	var exit utilexec.CodeExitError
	switch {
	case errors.As(err, &exit):
		return stdout.Bytes(), wrap(fmt.Errorf("%w%s", exit, quoteOutput(stdout.Bytes(), stderr.Bytes())))
	case err != nil:
		return nil, wrap(err)
	}
	return stdout.Bytes(), nil
}

// executor is kubectl's: WebSocket first (GET, as RFC 6455 wants), SPDY
// (POST) if the upgrade fails or an HTTPS proxy stops the WebSocket.
func (e *Execer) executor(u *url.URL) (remotecommand.Executor, error) {
	spdy, err := remotecommand.NewSPDYExecutor(e.config, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("creating the SPDY executor: %w", err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(e.config, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("creating the WebSocket executor: %w", err)
	}
	// httpstream is k8s.io/streaming's, whose errors client-go returns;
	// apimachinery's deprecated copy has a type of its own that they never
	// match.
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// quoteOutput is ": " and the end of a failed command's output (standard
// output, then error), or "" if it printed nothing.
func quoteOutput(stdout, stderr []byte) string {
	out := strings.TrimSpace(string(stdout) + string(stderr))
	if out == "" {
		return ""
	}
	if len(out) > maxErrorOutput {
		out = "..." + out[len(out)-maxErrorOutput:]
	}
	return ": " + out
}
