package fakeiris

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ControlFile is the name of the control file inside mgr/.
const ControlFile = "fakeiris.control"

// Words of the control file; see the package documentation.
const (
	ControlHang        = "hang"
	ControlCrash       = "crash"
	ControlFreezeFails = "freeze-fails"
	ControlThawIgnored = "thaw-ignored"
	ControlHoldStart   = "hold-start"
	ControlHoldStop    = "hold-stop"
)

// WriteControl replaces the control file of the instance in dataDir with
// words (none: no scripted behaviour). mgr/ is created if missing, so a
// test can script the very first start.
func WriteControl(dataDir string, words ...string) error {
	if err := os.MkdirAll(filepath.Join(dataDir, "mgr"), 0o755); err != nil {
		return fmt.Errorf("writing the control file: %w", err)
	}
	tmp := filepath.Join(dataDir, "mgr", "."+ControlFile)
	if err := os.WriteFile(tmp, []byte(strings.Join(words, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the control file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, "mgr", ControlFile)); err != nil {
		return fmt.Errorf("writing the control file: %w", err)
	}
	return nil
}

// controls returns the words of the control file; a missing file has none.
func (c config) controls() []string {
	b, err := os.ReadFile(c.mgr(ControlFile))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func (c config) control(word string) bool { return slices.Contains(c.controls(), word) }

// consumeControl removes word from the control file: "crash" acts once, so
// the restarted instance runs normally.
func (c config) consumeControl(word string) error {
	words := slices.DeleteFunc(c.controls(), func(w string) bool { return w == word })
	return WriteControl(c.dataDir, words...)
}
