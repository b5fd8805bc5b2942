package fakeiris

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(env(map[string]string{EnvDataDir: "/d", EnvStartDelay: "2s", EnvJournalInterval: "20ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.superserver != "127.0.0.1:1972" || c.startDelay != 2*time.Second || c.journalInterval != 20*time.Millisecond || c.alertDuration != 30*time.Minute {
		t.Errorf("config = %+v", c)
	}
	for _, bad := range []map[string]string{
		{},
		{EnvDataDir: "relative"},
		{EnvDataDir: "/d", EnvStopDelay: "5"},
		{EnvDataDir: "/d", EnvCrashAfter: "-1s"},
		{EnvDataDir: "/d", EnvJournalInterval: "0s"},
	} {
		if _, err := loadConfig(env(bad)); err == nil {
			t.Errorf("%v was accepted", bad)
		}
	}
}

// qlistLine must say what internal/iris reads, in every phase.
func TestQlistLineParses(t *testing.T) {
	cfg := config{dataDir: "/irissys/data/IRIS", superserver: "127.0.0.1:0", version: "2025.1.0.223.0"}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	since := now.Add(-time.Minute)
	for _, tc := range []struct {
		name   string
		st     state
		phase  string
		status iris.Status
		health iris.Health
		port   int
	}{
		{"never started", state{}, phaseDown, iris.StatusDown, iris.HealthNone, 1972},
		{"down", state{Since: since}, phaseDown, iris.StatusDown, iris.HealthNone, 1972},
		{"starting", state{Since: since}, phaseStarting, iris.StatusSignOnInhibited, iris.HealthNone, 1972},
		{"running", state{Since: since, Superserver: "127.0.0.1:41972"}, phaseRunning, iris.StatusRunning, iris.HealthOK, 41972},
		{"frozen", state{Since: since, Frozen: true}, phaseRunning, iris.StatusRunning, iris.HealthHung, 1972},
		{"after a crash", state{Since: since, AlertUntil: now.Add(time.Minute)}, phaseRunning, iris.StatusRunning, iris.HealthAlert, 1972},
		{"alert decayed", state{Since: since, AlertUntil: now.Add(-time.Second)}, phaseRunning, iris.StatusRunning, iris.HealthOK, 1972},
		{"stopping", state{Since: since}, phaseStopping, iris.StatusTransition, iris.HealthNone, 1972},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := qlistLine(cfg, tc.st, tc.phase, now)
			inst, err := iris.ParseQlist(line)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Status != tc.status || inst.Health != tc.health || inst.SuperserverPort != tc.port || inst.DataDirectory != cfg.dataDir {
				t.Errorf("%q parsed as %+v", line, inst)
			}
		})
	}
}

func TestObserved(t *testing.T) {
	live := func(int) bool { return true }
	dead := func(int) bool { return false }
	for _, tc := range []struct {
		st    state
		alive func(int) bool
		want  string
	}{
		{state{}, live, phaseDown},
		{state{Pid: 7, Phase: phaseRunning}, live, phaseRunning},
		{state{Pid: 7, Phase: phaseRunning}, dead, phaseDown}, // crashed
		{state{Pid: 7, Phase: phaseStarting}, live, phaseStarting},
	} {
		if got := observed(tc.st, tc.alive); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.st, got, tc.want)
		}
	}
}

func TestParseSession(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		method  string
		timeout time.Duration
		ok      bool
	}{
		{[]string{"-U%SYS", "##Class(Backup.General).ExternalFreeze()"}, "externalfreeze", 600 * time.Second, true},
		{[]string{"-U%SYS", "##Class(Backup.General).ExternalFreeze(,,,,,,30)"}, "externalfreeze", 30 * time.Second, true},
		{[]string{"-U", "%SYS", "##class(Backup.General).ExternalFreeze(\"/l\",\"t\",1,,,,5000)"}, "externalfreeze", 1200 * time.Second, true},
		{[]string{"-U%SYS", "##class(Backup.General).IsWDSuspendedExt()"}, "iswdsuspendedext", 600 * time.Second, true},
		{[]string{"-U%SYS", "##Class(Backup.General).ExternalThaw()"}, "externalthaw", 600 * time.Second, true},
		{[]string{"-U%SYS"}, "", 0, false},
		{[]string{"-U%SYS", "write 1"}, "", 0, false},
	} {
		method, args, ok := parseSession(tc.args)
		if method != tc.method || ok != tc.ok || (ok && freezeTimeout(args) != tc.timeout) {
			t.Errorf("%q: %q %q %v", tc.args, method, args, ok)
		}
	}
}

func TestParseMainOptions(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		up, down bool
		ok       bool
	}{
		{nil, true, true, true},
		{[]string{"--check-caps", "false", "--key", "/k/iris.key"}, true, true, true},
		{[]string{"--up", "false"}, false, true, true},
		{[]string{"-d", "false", "-u=true"}, true, false, true},
		{[]string{"--up", "maybe"}, false, false, false},
		{[]string{"--up"}, false, false, false},
		{[]string{"--bogus"}, false, false, false},
	} {
		o, err := parseMainOptions(tc.args)
		if (err == nil) != tc.ok || (tc.ok && (o.up != tc.up || o.down != tc.down)) {
			t.Errorf("%q: %+v, %v", tc.args, o, err)
		}
	}
}

func TestCheckSingleWriter(t *testing.T) {
	e := func(seq int64, pid int) JournalEntry { return JournalEntry{Seq: seq, PID: pid} }
	for _, tc := range []struct {
		name    string
		entries []JournalEntry
		ok      bool
	}{
		{"empty", nil, true},
		{"one writer", []JournalEntry{e(1, 10), e(2, 10), e(3, 10)}, true},
		{"a restart hands over", []JournalEntry{e(1, 10), e(2, 10), e(3, 11), e(4, 11)}, true},
		{"repeated sequence", []JournalEntry{e(1, 10), e(2, 10), e(2, 11)}, false},
		{"decreasing sequence", []JournalEntry{e(5, 10), e(3, 11)}, false},
		{"old writer comes back", []JournalEntry{e(1, 10), e(2, 11), e(3, 10)}, false},
	} {
		if err := CheckSingleWriter(tc.entries); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestReadJournalSkipsTornLines(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mgr"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "1 10 1000\n2 10 2000\n3 1"
	if err := os.WriteFile(filepath.Join(dir, "mgr", JournalFile), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJournal(dir)
	if err != nil || len(got) != 2 || got[1] != (JournalEntry{Seq: 2, PID: 10, At: time.Unix(0, 2000)}) {
		t.Errorf("ReadJournal = %+v, %v", got, err)
	}
	if got, err := ReadJournal(t.TempDir()); err != nil || got != nil {
		t.Errorf("a missing journal: %v, %v", got, err)
	}
}

func TestPrepareDurableSys(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		ok    bool
	}{
		{"missing directory", func(dir string) error { return os.RemoveAll(dir) }, true},
		{"empty directory", func(string) error { return nil }, true},
		{"existing durable %SYS", func(dir string) error { return os.Mkdir(filepath.Join(dir, "mgr"), 0o755) }, true},
		{"volume root with lost+found", func(dir string) error { return os.Mkdir(filepath.Join(dir, "lost+found"), 0o755) }, false},
		{"mgr is a file", func(dir string) error { return os.WriteFile(filepath.Join(dir, "mgr"), nil, 0o644) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config{dataDir: filepath.Join(t.TempDir(), "IRIS")}
			if err := os.Mkdir(cfg.dataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(cfg.dataDir); err != nil {
				t.Fatal(err)
			}
			err := prepareDurableSys(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if _, statErr := os.Stat(cfg.cpf()); tc.ok && statErr != nil {
				t.Errorf("no iris.cpf: %v", statErr)
			}
		})
	}
}

func TestApplyMergeAndShutdownTimeout(t *testing.T) {
	cfg := config{dataDir: t.TempDir()}
	if err := prepareDurableSys(cfg); err != nil {
		t.Fatal(err)
	}
	if got := shutdownTimeout(cfg); got != 300*time.Second {
		t.Errorf("default shutdown timeout %s", got)
	}
	file := filepath.Join(t.TempDir(), "merge.cpf")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[Startup]\nShutdownTimeout=150\n[Actions]\nCreateDatabase:Name=A,Directory=/d/A\n")
	if _, err := applyMerge(cfg, file); err != nil {
		t.Fatal(err)
	}
	cpf, _ := os.ReadFile(cfg.cpf())
	if got := shutdownTimeout(cfg); got != 150*time.Second || strings.Contains(string(cpf), "Actions") {
		t.Errorf("after the merge: timeout %s, iris.cpf\n%s", got, cpf)
	}
	write("[config]\nglobals 0\n")
	var pe *iris.ParseError
	if _, err := applyMerge(cfg, file); !errors.As(err, &pe) || pe.Line != 2 {
		t.Errorf("a bad merge: %v", err)
	}
	if _, err := applyMerge(cfg, filepath.Join(t.TempDir(), "missing.cpf")); !isNotExist(err) {
		t.Errorf("a missing merge file: %v", err)
	}
	cfg.shutdownTimeout = time.Second
	if got := shutdownTimeout(cfg); got != time.Second {
		t.Errorf("the override was ignored: %s", got)
	}
}

func TestControlWords(t *testing.T) {
	cfg := config{dataDir: t.TempDir()}
	if cfg.control(ControlHang) {
		t.Error("no control file, yet hang")
	}
	if err := WriteControl(cfg.dataDir, ControlCrash, ControlHang); err != nil {
		t.Fatal(err)
	}
	if !cfg.control(ControlCrash) || !cfg.control(ControlHang) {
		t.Errorf("words = %q", cfg.controls())
	}
	if err := cfg.consumeControl(ControlCrash); err != nil {
		t.Fatal(err)
	}
	if cfg.control(ControlCrash) || !cfg.control(ControlHang) {
		t.Errorf("after consuming crash: %q", cfg.controls())
	}
}

func TestMainRefusesOtherNames(t *testing.T) {
	var out strings.Builder
	if code := Main([]string{"/bin/fake-iris"}, strings.NewReader(""), &out); code != 2 || !strings.Contains(out.String(), "iris-main") {
		t.Errorf("exit %d: %s", code, out.String())
	}
}
