package iris

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Real qlist lines (isclib's fixtures and the docs), one per state.
const (
	qlistRunning    = "IRIS^/usr/irissys^2025.1.0.223.0^running, since Mon Nov 24 10:00:00 2026^iris.cpf^1972^52773^62972^ok^IRIS^^^/irissys/data/IRIS^1972"
	qlistFrozen     = "IRIS^/usr/irissys^2025.1.0.223.0^running, since Mon Nov 24 10:00:00 2026^iris.cpf^1972^52773^62972^hung^IRIS^^^/irissys/data/IRIS^1972"
	qlistDown       = "C151^/usr/cachesys^2015.1.0.429.0^down, last used Mon Jun  8 16:40:07 2015^cache.cpf^1972^57772^62972^^"
	qlistInhibited  = "CACHE142^/Users/CACHE142^2014.2.0.177.0^sign-on inhibited, last used Mon Jun  8 11:31:37 2015^cache.cpf^1972^57772^62972^"
	qlistOld        = "DOCKER^/ensemble/instances/docker^2018.1.1.643.0^running, since Mon Jul 23 14:42:09 2018^iris.cpf^1972^57772^62972^ok^IRIS^^^/ensemble/instances/docker"
	qlistTransition = "IRIS^/usr/irissys^2025.1^starting or stopping^iris.cpf^1972"
)

func TestParseQlist(t *testing.T) {
	for _, tc := range []struct {
		name, out, instance string
		status              Status
		health              Health
		dataDir             string
	}{
		{"running", qlistRunning, "IRIS", StatusRunning, HealthOK, "/irissys/data/IRIS"},
		{"frozen reads hung but runs", qlistFrozen, "iris", StatusRunning, HealthHung, "/irissys/data/IRIS"},
		{"down", qlistDown, "C151", StatusDown, HealthNone, ""},
		{"inhibited, short line", qlistInhibited, "cache142", StatusSignOnInhibited, HealthNone, ""},
		{"older version", qlistOld, "docker", StatusRunning, HealthOK, "/ensemble/instances/docker"},
		{"transition", qlistTransition, "IRIS", StatusTransition, HealthNone, ""},
		{"several instances", qlistDown + "\n" + qlistRunning + "\n", "IRIS", StatusRunning, HealthOK, "/irissys/data/IRIS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := ParseQlist(tc.out, tc.instance)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Status != tc.status || inst.Health != tc.health || inst.DataDirectory != tc.dataDir {
				t.Errorf("got status %q health %q data %q", inst.Status, inst.Health, inst.DataDirectory)
			}
		})
	}
	for _, bad := range []string{"", "IRIS^x", "Status indeterminate", qlistDown} {
		if _, err := ParseQlist(bad, "IRIS"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ParseQlist("indeterminate", "IRIS"); !errors.Is(err, ErrIndeterminate) {
		t.Errorf("indeterminate: %v", err)
	}
}

func FuzzParseQlist(f *testing.F) {
	for _, s := range []string{qlistRunning, qlistFrozen, qlistDown, qlistInhibited, qlistOld, qlistTransition, "", "^^^", "IRIS^^^running"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		inst, err := ParseQlist(out, "IRIS")
		if err == nil && !strings.EqualFold(inst.Name, "IRIS") {
			t.Fatalf("returned instance %q for IRIS", inst.Name)
		}
	})
}

// script is a Runner that answers each command line with a canned result and
// records what ran.
type script struct {
	answers map[string]answer
	ran     []string
}

type answer struct {
	out  string
	code int
}

func (s *script) Run(_ context.Context, name string, args ...string) (string, int, error) {
	line := name + " " + strings.Join(args, " ")
	s.ran = append(s.ran, line)
	a, ok := s.answers[line]
	if !ok {
		return "", 127, nil
	}
	return a.out, a.code, nil
}

const (
	freezeCmd  = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalFreeze(,,,,,,30)`
	thawCmd    = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalThaw()`
	isWDCmd    = `iris session IRIS -U%SYS ##Class(Backup.General).IsWDSuspendedExt()`
	statWCmd   = `iris stat IRIS -W`
	qlistCmd   = `iris qlist IRIS`
	stopCmd    = `iris stop IRIS quietly`
	forceCmd   = `iris force IRIS`
	defaultCmd = `iris session IRIS -U%SYS ##Class(Backup.General).ExternalFreeze()`
)

func TestFreezeExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code    int
		wantErr error
		anyErr  bool
	}{
		{5, nil, false},
		{3, ErrFreezeFailed, true},
		{1, nil, true},
	} {
		s := &script{answers: map[string]answer{freezeCmd: {"", tc.code}}}
		err := (&Client{Runner: s}).Freeze(context.Background(), 30)
		if (err != nil) != tc.anyErr || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("exit %d: err = %v", tc.code, err)
		}
	}
	s := &script{answers: map[string]answer{defaultCmd: {"", 5}}}
	if err := (&Client{Runner: s}).Freeze(context.Background(), 0); err != nil {
		t.Errorf("default freeze: %v", err)
	}
}

func TestThawFallsBackToStatW(t *testing.T) {
	// ExternalThaw leaves the daemon suspended; iris stat -W resumes it.
	s := &script{answers: map[string]answer{thawCmd: {"", 0}, isWDCmd: {"", 5}, statWCmd: {"", 0}}}
	c := &Client{Runner: &flipAfter{script: s, cmd: statWCmd, to: map[string]answer{isWDCmd: {"", 3}}}}
	if err := c.Thaw(context.Background()); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if got := strings.Join(s.ran, "\n"); !strings.Contains(got, statWCmd) {
		t.Errorf("iris stat -W was not tried:\n%s", got)
	}

	stuck := &script{answers: map[string]answer{thawCmd: {"", 0}, isWDCmd: {"", 5}, statWCmd: {"", 0}}}
	if err := (&Client{Runner: stuck}).Thaw(context.Background()); err == nil {
		t.Errorf("a daemon that stays suspended must be an error")
	}

	clean := &script{answers: map[string]answer{thawCmd: {"", 0}, isWDCmd: {"", 3}}}
	if err := (&Client{Runner: clean}).Thaw(context.Background()); err != nil || strings.Contains(strings.Join(clean.ran, "\n"), statWCmd) {
		t.Errorf("a clean thaw: err %v, ran %v", err, clean.ran)
	}
}

// flipAfter changes some answers once cmd has run.
type flipAfter struct {
	*script
	cmd string
	to  map[string]answer
}

func (f *flipAfter) Run(ctx context.Context, name string, args ...string) (string, int, error) {
	out, code, err := f.script.Run(ctx, name, args...)
	if name+" "+strings.Join(args, " ") == f.cmd {
		for k, v := range f.to {
			f.answers[k] = v
		}
	}
	return out, code, err
}

func TestCommandLines(t *testing.T) {
	s := &script{answers: map[string]answer{qlistCmd: {qlistRunning, 0}, stopCmd: {"", 0}, forceCmd: {"", 0}}}
	c := &Client{Runner: s}
	ctx := context.Background()
	if inst, err := c.Status(ctx); err != nil || !inst.Running() {
		t.Errorf("Status = %+v, %v", inst, err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Error(err)
	}
	if err := c.Force(ctx); err != nil {
		t.Error(err)
	}
	if err := c.Merge(ctx, "/irissys/merge/merge.cpf"); err == nil {
		t.Errorf("an unknown command (exit 127) must be an error")
	}
}
