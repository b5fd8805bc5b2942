package fakeiris

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// defaultCPF is the iris.cpf copied into a new durable %SYS.
const defaultCPF = "[Startup]\nShutdownTimeout=300\n[config]\nglobals=0,0,0,0,0,0\ngmheap=37568\n"

// prepareDurableSys applies durable %SYS's rules (iris-facts §1): a missing
// or empty directory is initialised with mgr/ and iris.cpf; one holding data
// but no mgr/ (a volume root with lost+found) is refused, and the container
// does not start; one with mgr/ is used as it is.
func prepareDurableSys(cfg config) error {
	entries, err := os.ReadDir(cfg.dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading durable %%SYS directory %s: %w", cfg.dataDir, err)
	}
	hasMgr := false
	for _, e := range entries {
		hasMgr = hasMgr || (e.Name() == "mgr" && e.IsDir())
	}
	if len(entries) > 0 && !hasMgr {
		return fmt.Errorf("durable %%SYS directory %s is not empty and has no mgr/ directory; refusing to use it", cfg.dataDir)
	}
	if err := os.MkdirAll(filepath.Join(cfg.dataDir, "mgr", "journal"), 0o755); err != nil {
		return fmt.Errorf("creating durable %%SYS: %w", err)
	}
	if _, err := os.Stat(cfg.cpf()); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(cfg.cpf(), []byte(defaultCPF), 0o644); err != nil {
			return fmt.Errorf("creating %s: %w", cfg.cpf(), err)
		}
	}
	return nil
}

// applyMerge merges file into iris.cpf the way `iris merge` does, after
// validating it with the parser the operator uses and the fake's own
// refusals (refusal); the error names the failing setting, and a refused
// file changes nothing. [Actions] are recorded in the copy of the merge
// file but never written to iris.cpf, where IRIS would refuse them. It
// returns the parsed file.
func applyMerge(cfg config, file string) (*iris.MergeFile, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading merge file: %w", err)
	}
	merge, err := iris.ParseMerge(string(text))
	if err != nil {
		return nil, fmt.Errorf("merge file %s: %w", file, err)
	}
	cpfText, err := os.ReadFile(cfg.cpf())
	if err != nil {
		return nil, fmt.Errorf("reading the target CPF: %w", err)
	}
	cpf, err := iris.ParseMerge(string(cpfText))
	if err != nil {
		return nil, fmt.Errorf("the target CPF %s: %w", cfg.cpf(), err)
	}
	for _, s := range merge.Sections() {
		if len(s.Settings) == 0 {
			if err := refusal(s.Name, "", ""); err != nil {
				return nil, fmt.Errorf("merge file %s: %w", file, err)
			}
		}
		for _, kv := range s.Settings {
			if err := refusal(s.Name, kv.Key, kv.Value); err != nil {
				return nil, fmt.Errorf("merge file %s: %w", file, err)
			}
			if err := cpf.Set(s.Name, kv.Key, kv.Value); err != nil {
				return nil, fmt.Errorf("merge file %s: %w", file, err)
			}
		}
	}
	if err := os.WriteFile(cfg.cpf(), []byte(cpf.Render()), 0o644); err != nil {
		return nil, fmt.Errorf("writing the CPF: %w", err)
	}
	if err := os.WriteFile(cfg.mgr("merged.cpf"), text, 0o644); err != nil {
		return nil, fmt.Errorf("recording the merge file: %w", err)
	}
	return merge, nil
}

// shutdownTimeout is how long a graceful stop may take before IRIS forces
// it: FAKEIRIS_SHUTDOWN_TIMEOUT, else [Startup] ShutdownTimeout of iris.cpf.
func shutdownTimeout(cfg config) time.Duration {
	if cfg.shutdownTimeout > 0 {
		return cfg.shutdownTimeout
	}
	seconds := iris.DefaultShutdownTimeout
	if b, err := os.ReadFile(cfg.cpf()); err == nil {
		if m, err := iris.ParseMerge(string(b)); err == nil {
			if v, ok := m.Get(iris.StartupSection, iris.ShutdownTimeoutKey); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					seconds = n
				}
			}
		}
	}
	return time.Duration(seconds) * time.Second
}
