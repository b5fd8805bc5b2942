package fakeiris

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Environment variables the fake reads (see the package documentation).
const (
	EnvDataDir         = "ISC_DATA_DIRECTORY"
	EnvMergeFile       = "ISC_CPF_MERGE_FILE"
	EnvSuperserver     = "FAKEIRIS_SUPERSERVER"
	EnvStartDelay      = "FAKEIRIS_START_DELAY"
	EnvStopDelay       = "FAKEIRIS_STOP_DELAY"
	EnvShutdownTimeout = "FAKEIRIS_SHUTDOWN_TIMEOUT"
	EnvJournalInterval = "FAKEIRIS_JOURNAL_INTERVAL"
	EnvCrashAfter      = "FAKEIRIS_CRASH_AFTER"
	EnvAlertDuration   = "FAKEIRIS_ALERT_DURATION"
	EnvVersion         = "FAKEIRIS_VERSION"
)

// config is the fake's environment, read once per process.
type config struct {
	dataDir     string
	mergeFile   string
	superserver string
	version     string
	startDelay  time.Duration
	stopDelay   time.Duration
	// shutdownTimeout overrides [Startup] ShutdownTimeout of iris.cpf when
	// positive, so tests need not wait 120 s for a forced stop.
	shutdownTimeout time.Duration
	journalInterval time.Duration
	crashAfter      time.Duration
	alertDuration   time.Duration
}

// loadConfig reads the environment through getenv. A malformed duration is
// an error rather than a default: a test that asks for a behaviour must get
// it or fail loudly.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		dataDir:     getenv(EnvDataDir),
		mergeFile:   getenv(EnvMergeFile),
		superserver: or(getenv(EnvSuperserver), "127.0.0.1:1972"),
		version:     or(getenv(EnvVersion), "2025.1.0.223.0"),
	}
	if c.dataDir == "" {
		return c, errors.New(EnvDataDir + " is not set: the fake keeps its instance in durable %SYS")
	}
	if !filepath.IsAbs(c.dataDir) {
		return c, fmt.Errorf("%s=%s is not an absolute path", EnvDataDir, c.dataDir)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{EnvStartDelay, &c.startDelay, 0},
		{EnvStopDelay, &c.stopDelay, 0},
		{EnvShutdownTimeout, &c.shutdownTimeout, 0},
		{EnvJournalInterval, &c.journalInterval, 100 * time.Millisecond},
		{EnvCrashAfter, &c.crashAfter, 0},
		// the System Monitor's alert state decays 30 minutes after the last alert
		{EnvAlertDuration, &c.alertDuration, 30 * time.Minute},
	} {
		*d.dst = d.def
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed < 0 {
			return c, fmt.Errorf("%s=%q is not a duration such as 500ms", d.name, v)
		}
		*d.dst = parsed
	}
	if c.journalInterval <= 0 {
		return c, fmt.Errorf("%s must be positive", EnvJournalInterval)
	}
	return c, nil
}

func (c config) mgr(name string) string { return filepath.Join(c.dataDir, "mgr", name) }

func (c config) cpf() string { return filepath.Join(c.dataDir, "iris.cpf") }

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
