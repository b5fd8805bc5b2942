package iris

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Sections returns the sections in file order.
func (m *MergeFile) Sections() []*Section { return m.sections }

// Get returns the value of key in section. Names compare case-insensitively:
// whether IRIS does is undocumented, and for the questions irisha asks ("did
// the user set ShutdownTimeout?") a case-insensitive yes is the safe answer.
func (m *MergeFile) Get(section, key string) (string, bool) {
	s := m.section(section)
	if s == nil {
		return "", false
	}
	i, ok := s.index(key)
	if !ok {
		return "", false
	}
	return s.Settings[i].Value, true
}

// Set sets key in section, adding the section (at the end) or the key (at
// the end of its section) when missing. It refuses what Render could not
// write back as the same setting, and [Actions], which holds no settings.
func (m *MergeFile) Set(section, key, value string) error {
	switch {
	case !sectionName.MatchString(section):
		return fmt.Errorf("setting [%s] %s: %q is not a valid section name", section, key, section)
	case strings.EqualFold(section, ActionsSection):
		return fmt.Errorf("setting [%s] %s: [%s] holds actions, not settings", section, key, ActionsSection)
	case !validKey(key):
		return fmt.Errorf("setting [%s] %q: not a valid key", section, key)
	case strings.ContainsAny(value, "\r\n") || value != strings.TrimRightFunc(value, unicode.IsSpace):
		return fmt.Errorf("setting [%s] %s: the value %q holds a line break or trailing blanks", section, key, value)
	}
	if err := validateKnown(section, key, value); err != nil {
		return fmt.Errorf("setting [%s] %s=%s: %w", section, key, value, err)
	}
	s := m.section(section)
	if s == nil {
		s = &Section{Name: section}
		m.sections = append(m.sections, s)
	}
	if i, ok := s.index(key); ok {
		s.Settings[i].Value = value
		return nil
	}
	s.Settings = append(s.Settings, Setting{Key: key, Value: value})
	return nil
}

// SetShutdownTimeout sets [Startup] ShutdownTimeout, the seconds IRIS waits
// for a graceful stop before forcing one. The operator owns it so that the
// pod's terminationGracePeriodSeconds can always stay above it.
func (m *MergeFile) SetShutdownTimeout(seconds int) error {
	return m.Set(StartupSection, ShutdownTimeoutKey, strconv.Itoa(seconds))
}

// SetPasswordHash sets [Startup] PasswordHash, the one-time replacement of
// the default password "SYS" (see ValidatePasswordHash for the form).
func (m *MergeFile) SetPasswordHash(hash string) error {
	return m.Set(StartupSection, PasswordHashKey, hash)
}

// Render returns the canonical text: sections in order, one "[Name]" line
// each, then settings in order as "key=value", then actions verbatim. Its
// output parses back to the same MergeFile.
func (m *MergeFile) Render() string {
	var b strings.Builder
	for _, s := range m.sections {
		b.WriteString("[" + s.Name + "]\n")
		for _, kv := range s.Settings {
			b.WriteString(kv.Key + "=" + kv.Value + "\n")
		}
		for _, a := range s.Actions {
			b.WriteString(a + "\n")
		}
	}
	return b.String()
}

func (m *MergeFile) section(name string) *Section {
	for _, s := range m.sections {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

func (s *Section) index(key string) (int, bool) {
	for i, kv := range s.Settings {
		if strings.EqualFold(kv.Key, key) {
			return i, true
		}
	}
	return -1, false
}

var errNotANumber = errors.New("is not a whole number")
