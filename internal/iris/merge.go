package iris

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ActionsSection is the merge-only section whose lines are actions
// ("CreateDatabase:Name=APPA,Directory=/db/APPA"), not key=value settings.
const ActionsSection = "Actions"

// MergeFile is a parsed CPF merge file: a partial CPF of [Section] headers
// followed by key=value lines.
type MergeFile struct {
	sections []*Section
}

// Section is one [Name] of a merge file, in file order.
type Section struct {
	Name     string
	Settings []Setting
	// Actions holds the lines of the [Actions] section, which may repeat.
	Actions []string
}

// Setting is one key=value line.
type Setting struct{ Key, Value string }

// ParseError is a merge text that IRIS would refuse; Line is 1-based.
type ParseError struct {
	Line   int
	Text   string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %q %s", e.Line, e.Text, e.Reason)
}

var (
	// Section names seen in CPFs: config, Startup, Map.USER, Actions, ...
	sectionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.%-]*$`)
	actionVerb  = regexp.MustCompile(`^[A-Za-z]+$`)
	argName     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// ParseMerge parses a CPF merge text. It is stricter than needed to read the
// text and exactly as strict as IRIS: anything IRIS's merge would reject at
// startup is rejected here, naming the line, so a bad text is caught before
// it reaches a pod. CPF has no comment syntax, so "#" and ";" lines are
// errors too.
func ParseMerge(text string) (*MergeFile, error) {
	m := &MergeFile{}
	var cur *Section
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		fail := func(reason string) error { return &ParseError{Line: n, Text: line, Reason: reason} }
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			return nil, fail("is a comment, and CPF files have none")
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, fail(`is not a "[Section]" header`)
			}
			name := strings.TrimSpace(line[1 : len(line)-1])
			if !sectionName.MatchString(name) {
				return nil, fail("is not a valid section name")
			}
			cur = m.section(name)
			if cur == nil {
				cur = &Section{Name: name}
				m.sections = append(m.sections, cur)
			}
		case cur == nil:
			return nil, fail(`comes before any "[Section]" header`)
		case strings.EqualFold(cur.Name, ActionsSection):
			if err := validateAction(line); err != nil {
				return nil, fail(err.Error())
			}
			cur.Actions = append(cur.Actions, line)
		default:
			key, value, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" || strings.ContainsAny(key, " \t") {
				return nil, fail(`is not "key=value"`)
			}
			if _, dup := cur.get(key); dup {
				return nil, fail(fmt.Sprintf("sets %s again in [%s]", key, cur.Name))
			}
			cur.Settings = append(cur.Settings, Setting{Key: key, Value: strings.TrimSpace(value)})
		}
	}
	return m, nil
}

// validateAction checks "Verb:Arg=Value,Arg=Value" with double quotes around
// values that hold "," or "=".
func validateAction(line string) error {
	verb, args, ok := strings.Cut(line, ":")
	if !ok || !actionVerb.MatchString(verb) {
		return errors.New(`is not an action "Verb:Arg=Value,..."`)
	}
	parts, err := splitQuoted(args)
	if err != nil {
		return err
	}
	for _, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !argName.MatchString(name) {
			return fmt.Errorf("has an argument %q that is not Name=Value", p)
		}
		if strings.ContainsAny(value, "=,") && !isQuoted(value) {
			return fmt.Errorf("has a value %q with \"=\" or \",\" that is not in double quotes", value)
		}
	}
	return nil
}

// splitQuoted splits on commas outside double quotes; "" inside quotes is an
// escaped quote, as in ObjectScript strings.
func splitQuoted(s string) ([]string, error) {
	var parts []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			b.WriteByte(c)
		case c == ',' && !quoted:
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if quoted {
		return nil, errors.New("has an unclosed double quote")
	}
	return append(parts, b.String()), nil
}

func isQuoted(v string) bool {
	return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
}

func (m *MergeFile) section(name string) *Section {
	for _, s := range m.sections {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

func (s *Section) get(key string) (int, bool) {
	for i, kv := range s.Settings {
		if strings.EqualFold(kv.Key, key) {
			return i, true
		}
	}
	return -1, false
}

// Sections returns the sections in file order.
func (m *MergeFile) Sections() []*Section { return m.sections }

// Get returns the value of key in section; names compare case-insensitively,
// as IRIS compares them.
func (m *MergeFile) Get(section, key string) (string, bool) {
	s := m.section(section)
	if s == nil {
		return "", false
	}
	i, ok := s.get(key)
	if !ok {
		return "", false
	}
	return s.Settings[i].Value, true
}

// Set sets key in section, adding either if missing.
func (m *MergeFile) Set(section, key, value string) {
	s := m.section(section)
	if s == nil {
		s = &Section{Name: section}
		m.sections = append(m.sections, s)
	}
	if i, ok := s.get(key); ok {
		s.Settings[i].Value = value
		return
	}
	s.Settings = append(s.Settings, Setting{Key: key, Value: value})
}

// Render returns the canonical text of the merge file.
func (m *MergeFile) Render() string {
	var b strings.Builder
	for _, s := range m.sections {
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, kv := range s.Settings {
			fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
		}
		for _, a := range s.Actions {
			b.WriteString(a + "\n")
		}
	}
	return b.String()
}

var (
	hexHash = regexp.MustCompile(`^[0-9A-Fa-f]{20,}$`)
	salt    = regexp.MustCompile(`^[0-9A-Za-z+/=._-]+$`)
)

// ValidatePasswordHash checks the [Startup] PasswordHash form
// "hash,salt[,workfactor,algorithm]" (hex hash; algorithm SHA1, SHA256 or
// SHA512; work factor a positive number).
func ValidatePasswordHash(s string) error {
	parts := strings.Split(strings.TrimSpace(s), ",")
	if len(parts) != 2 && len(parts) != 4 {
		return errors.New(`is not "hash,salt" or "hash,salt,workfactor,algorithm"`)
	}
	if !hexHash.MatchString(parts[0]) {
		return errors.New("has a hash that is not hexadecimal")
	}
	if !salt.MatchString(parts[1]) {
		return errors.New("has an empty or malformed salt")
	}
	if len(parts) == 4 {
		if n := parts[2]; n == "" || strings.Trim(n, "0123456789") != "" || strings.TrimLeft(n, "0") == "" {
			return errors.New("has a work factor that is not a positive number")
		}
		switch strings.ToUpper(parts[3]) {
		case "SHA1", "SHA256", "SHA512":
		default:
			return fmt.Errorf("has algorithm %q; IRIS knows SHA1, SHA256 and SHA512", parts[3])
		}
	}
	return nil
}
