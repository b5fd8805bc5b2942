package iris

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// script is a Runner that answers command lines with canned results, in
// order when one line is answered several times, and records what ran.
type script struct {
	answers map[string][]answer
	ran     []string
}

type answer struct {
	out  string
	code int
	err  error
}

func newScript(lines ...any) *script {
	s := &script{answers: map[string][]answer{}}
	for i := 0; i+1 < len(lines); i += 2 {
		line := lines[i].(string)
		s.answers[line] = append(s.answers[line], lines[i+1].(answer))
	}
	return s
}

func (s *script) Run(_ context.Context, name string, args ...string) (string, int, error) {
	line := name + " " + strings.Join(args, " ")
	s.ran = append(s.ran, line)
	as := s.answers[line]
	if len(as) == 0 {
		return "iris: unknown command", 127, nil
	}
	a := as[0]
	if len(as) > 1 {
		s.answers[line] = as[1:]
	}
	return a.out, a.code, a.err
}

// The exact command lines of iris-facts §3 and §4; the session call is one
// argument (shown unquoted here because no shell is involved).
const (
	qlistCmd    = `iris qlist IRIS`
	startCmd    = `iris start IRIS`
	stopCmd     = `iris stop IRIS quietly`
	forceCmd    = `iris force IRIS`
	mergeCmd    = `iris merge IRIS /irissys/merge/merge.cpf`
	freezeCmd   = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalFreeze(,,,,,,30)`
	freezeDflt  = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalFreeze()`
	thawCmd     = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalThaw()`
	isWDCmd     = `iris session IRIS -U%SYS ##Class(Backup.General).IsWDSuspendedExt()`
	statWCmd    = `iris stat IRIS -W`
	customIris  = `/usr/irissys/bin/iris qlist IRIS`
	errCanceled = "context canceled"
)

func TestCommandLinesAndExitCodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		line    string
		answer  answer
		call    func(*Client) error
		wantErr string // empty: success
	}{
		{"status", qlistCmd, answer{out: qlistRunning}, func(c *Client) error {
			inst, err := c.Status(ctx)
			if err == nil && !inst.Running() {
				return errors.New("not running")
			}
			return err
		}, ""},
		{"status exit 1", qlistCmd, answer{out: "boom", code: 1}, func(c *Client) error { _, err := c.Status(ctx); return err }, "iris qlist IRIS exited 1: boom"},
		{"status unparseable", qlistCmd, answer{out: "nothing"}, func(c *Client) error { _, err := c.Status(ctx); return err }, "no instance IRIS"},
		{"start", startCmd, answer{}, func(c *Client) error { return c.Start(ctx) }, ""},
		{"start fails", startCmd, answer{out: "no", code: 1}, func(c *Client) error { return c.Start(ctx) }, "iris start IRIS exited 1: no"},
		{"stop", stopCmd, answer{}, func(c *Client) error { return c.Stop(ctx) }, ""},
		{"stop cancelled", stopCmd, answer{code: -1, err: context.Canceled}, func(c *Client) error { return c.Stop(ctx) }, errCanceled},
		{"force", forceCmd, answer{}, func(c *Client) error { return c.Force(ctx) }, ""},
		{"merge", mergeCmd, answer{}, func(c *Client) error { return c.Merge(ctx, "/irissys/merge/merge.cpf") }, ""},
		{"merge names the line", mergeCmd, answer{out: "failed on line 3", code: 1}, func(c *Client) error { return c.Merge(ctx, "/irissys/merge/merge.cpf") }, "line 3"},
		{"freeze 5 is frozen", freezeCmd, answer{code: 5}, func(c *Client) error { return c.Freeze(ctx, 30) }, ""},
		{"freeze 3 is failed", freezeCmd, answer{out: "ERROR", code: 3}, func(c *Client) error { return c.Freeze(ctx, 30) }, "ExternalFreeze failed (exit 3): IRIS did not suspend its write daemon: ERROR"},
		{"freeze 0 is unexpected", freezeCmd, answer{code: 0}, func(c *Client) error { return c.Freeze(ctx, 30) }, "exited 0"},
		{"freeze 1 is unexpected", freezeCmd, answer{code: 1}, func(c *Client) error { return c.Freeze(ctx, 30) }, "exited 1"},
		{"freeze default timeout", freezeDflt, answer{code: 5}, func(c *Client) error { return c.Freeze(ctx, 0) }, ""},
		{"resume write daemon", statWCmd, answer{}, func(c *Client) error { return c.ResumeWriteDaemon(ctx) }, ""},
		{"resume fails", statWCmd, answer{code: 2}, func(c *Client) error { return c.ResumeWriteDaemon(ctx) }, "exited 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(tc.line, tc.answer)
			err := tc.call(&Client{Runner: s})
			if tc.wantErr == "" && err != nil {
				t.Errorf("err = %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if len(s.ran) != 1 || s.ran[0] != tc.line {
				t.Errorf("ran %q, want exactly %q", s.ran, tc.line)
			}
		})
	}
}

func TestFreezeErrorsAreTyped(t *testing.T) {
	err := (&Client{Runner: newScript(freezeCmd, answer{code: 3})}).Freeze(context.Background(), 30)
	if !errors.Is(err, ErrFreezeFailed) {
		t.Errorf("exit 3: %v, want ErrFreezeFailed", err)
	}
	err = (&Client{Runner: newScript(freezeCmd, answer{code: 1})}).Freeze(context.Background(), 30)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Code != 1 || errors.Is(err, ErrFreezeFailed) {
		t.Errorf("exit 1: %v, want a *CommandError, not ErrFreezeFailed", err)
	}
}

func TestFreezeRefusesTimeoutsIRISWouldCap(t *testing.T) {
	for _, seconds := range []int{-1, MaxFreezeTimeout + 1} {
		s := newScript()
		if err := (&Client{Runner: s}).Freeze(context.Background(), seconds); err == nil || len(s.ran) != 0 {
			t.Errorf("timeout %d: err %v, ran %q", seconds, err, s.ran)
		}
	}
}

func TestWriteDaemonSuspended(t *testing.T) {
	for _, tc := range []struct {
		code      int
		suspended bool
		err       bool
	}{{5, true, false}, {3, false, false}, {0, false, true}, {1, false, true}} {
		got, err := (&Client{Runner: newScript(isWDCmd, answer{code: tc.code})}).WriteDaemonSuspended(context.Background())
		if got != tc.suspended || (err != nil) != tc.err {
			t.Errorf("exit %d: %v, %v", tc.code, got, err)
		}
	}
}

func TestThaw(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  *script
		ran     []string
		wantErr error // nil with ok false: any error
		ok      bool
	}{
		{"thaw resumes", newScript(thawCmd, answer{}, isWDCmd, answer{code: 3}),
			[]string{thawCmd, isWDCmd}, nil, true},
		{"stat -W when ExternalThaw did not resume", newScript(thawCmd, answer{}, isWDCmd, answer{code: 5}, statWCmd, answer{}, isWDCmd, answer{code: 3}),
			[]string{thawCmd, isWDCmd, statWCmd, isWDCmd}, nil, true},
		{"stat -W when sessions are refused", newScript(thawCmd, answer{code: 1}, isWDCmd, answer{code: 1}, statWCmd, answer{}, isWDCmd, answer{code: 3}),
			[]string{thawCmd, isWDCmd, statWCmd, isWDCmd}, nil, true},
		{"still suspended", newScript(thawCmd, answer{}, isWDCmd, answer{code: 5}, statWCmd, answer{}, isWDCmd, answer{code: 5}),
			[]string{thawCmd, isWDCmd, statWCmd, isWDCmd}, ErrStillSuspended, false},
		{"stat -W fails", newScript(thawCmd, answer{}, isWDCmd, answer{code: 5}, statWCmd, answer{code: 1}),
			[]string{thawCmd, isWDCmd, statWCmd}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Client{Runner: tc.script}).Thaw(context.Background())
			if tc.ok != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("err = %v", err)
			}
			if strings.Join(tc.script.ran, "\n") != strings.Join(tc.ran, "\n") {
				t.Errorf("ran\n%s\nwant\n%s", strings.Join(tc.script.ran, "\n"), strings.Join(tc.ran, "\n"))
			}
		})
	}
}

func TestIrisPathIsConfigurable(t *testing.T) {
	s := newScript(customIris, answer{out: qlistRunning})
	if _, err := (&Client{Runner: s, Iris: "/usr/irissys/bin/iris"}).Status(context.Background()); err != nil {
		t.Error(err)
	}
}
