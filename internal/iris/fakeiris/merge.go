package fakeiris

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// cpfSections are the sections of iris.cpf in the CPF reference (RACS), plus
// the merge-only [Actions] and the per-namespace [Map.<namespace>]. A merge
// naming another is refused: what the real `iris merge` does with an unknown
// section is not documented, and refusing models the case irisha must
// survive (a change IRIS refuses, the old configuration still running).
var cpfSections = map[string]bool{
	"actions": true, "comports": true, "config": true, "configfile": true, "databases": true,
	"debug": true, "devices": true, "devicesubtypes": true, "ecp": true, "ecpservers": true,
	"gateways": true, "io": true, "journal": true, "licenseservers": true, "logging": true,
	"magtapes": true, "mirrormember": true, "mirrors": true, "miscellaneous": true, "monitor": true,
	"namespaces": true, "sql": true, "sqlsysdatatypes": true, "sqluserdatatypes": true,
	"startup": true, "telnet": true, "workqueues": true,
}

// numericRanges are the documented ranges the fake checks, so a test can
// write a value irisha's parser accepts and IRIS refuses: gmheap is 16384 to
// 1,073,741,760 KB, or 0 for IRIS's own choice (RACS_gmheap).
var numericRanges = map[string][2]int{
	"config/gmheap":   {16384, 1073741760},
	"config/routines": {0, 1 << 30},
	"config/jrnbufs":  {0, 1 << 30},
}

// refusal is why the fake's `iris merge` refuses a setting the operator's
// parser let through; nil: it merges it.
func refusal(section, key, value string) error {
	s := strings.ToLower(section)
	if !cpfSections[s] && !strings.HasPrefix(s, "map.") {
		return fmt.Errorf("[%s] is not a section of the CPF", section)
	}
	r, ok := numericRanges[s+"/"+strings.ToLower(key)]
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(value)
	if err != nil {
		return fmt.Errorf("[%s] %s=%s: not a whole number", section, key, value)
	}
	if n != 0 && (n < r[0] || n > r[1]) {
		return fmt.Errorf("[%s] %s=%d: outside the range %d-%d", section, key, n, r[0], r[1])
	}
	return nil
}

// paramKey names a setting in state.Config.
func paramKey(section, key string) string {
	return strings.ToLower(section) + "/" + strings.ToLower(key)
}

// loadEffective is the configuration an instance starting now runs with:
// every setting of iris.cpf, which it reads at every start.
func loadEffective(cfg config) map[string]string {
	b, err := os.ReadFile(cfg.cpf())
	if err != nil {
		return nil
	}
	m, err := iris.ParseMerge(string(b))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, s := range m.Sections() {
		for _, kv := range s.Settings {
			out[paramKey(s.Name, kv.Key)] = kv.Value
		}
	}
	return out
}

// applyLive puts merged's settings that a running instance takes at once
// into its effective configuration, and logs the ones that wait for the
// next start (iris.NeedsRestart); a down instance reads them all at start.
// Like the real IRIS, the fake does not watch $ISC_CPF_MERGE_FILE for a
// kubelet's symlink swap: whether IRIS notices one is unverified, so the
// fake models the worst case and only `iris merge` (the agent's) acts.
func applyLive(cfg config, merged *iris.MergeFile) error {
	st, err := store{cfg}.load()
	if err != nil || observed(st, alive) == phaseDown {
		return err
	}
	var waiting []string
	_, _, err = store{cfg}.update(func(st *state) {
		if st.Config == nil {
			st.Config = map[string]string{}
		}
		for _, s := range merged.Sections() {
			for _, kv := range s.Settings {
				if iris.NeedsRestart(s.Name, kv.Key) {
					if st.Config[paramKey(s.Name, kv.Key)] != kv.Value {
						waiting = append(waiting, fmt.Sprintf("[%s] %s", s.Name, kv.Key))
					}
					continue
				}
				st.Config[paramKey(s.Name, kv.Key)] = kv.Value
			}
		}
	})
	if err != nil {
		return fmt.Errorf("applying the merge to the running instance: %w", err)
	}
	if len(waiting) > 0 {
		msg := messages{cfg: cfg, now: time.Now}
		msg.log(sevInfo, "Config.Event", "Configuration merge: %s take effect at the next restart", strings.Join(waiting, ", "))
	}
	return nil
}

// Effective reads the value of [section] key the instance in dataDir runs
// with (false: unset, or never started): what tests check a merge by.
func Effective(dataDir, section, key string) (string, bool, error) {
	st, err := store{cfg: config{dataDir: dataDir}}.load()
	if err != nil {
		return "", false, err
	}
	v, ok := st.Config[paramKey(section, key)]
	return v, ok, nil
}
