package iris

import (
	"fmt"
	"regexp"
	"strings"
)

// ActionsSection is the merge-only section whose lines are actions
// ("CreateDatabase:Name=APPA,Directory=/db/APPA"), not key=value settings.
// IRIS refuses to start with it inside iris.cpf; it is valid in merge files.
const ActionsSection = "Actions"

// MergeFile is a parsed CPF merge file: a partial CPF of [Section] headers
// followed by key=value lines. The zero value is an empty, valid merge file.
type MergeFile struct {
	sections []*Section
}

// Section is one [Name] of a merge file. A name that appears twice in the
// text is one Section, at its first position.
type Section struct {
	Name     string
	Settings []Setting
	// Actions holds the lines of the [Actions] section verbatim; an action
	// may repeat.
	Actions []string
}

// Setting is one key=value line.
type Setting struct{ Key, Value string }

// ParseError is a merge text that IRIS would refuse, or might: Line is
// 1-based and Text is the offending line without its line ending.
type ParseError struct {
	Line   int
	Text   string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %q %s", e.Line, e.Text, e.Reason)
}

// sectionName admits the names real CPFs use: config, Startup, Map.USER,
// Map.%SYS, SqlSysDatatypes, Actions. No spaces: whether IRIS trims
// "[ config ]" is undocumented, so it is refused.
var sectionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.%-]*$`)

// ParseMerge parses and validates a CPF merge text.
//
// Rules, chosen to refuse whatever IRIS might refuse at startup (a refused
// merge file crash-loops the pod; a refused spec only needs an edit):
//   - lines end in LF or CRLF; leading and trailing blanks are ignored, and
//     so are blank lines;
//   - CPF has no comment syntax, so lines starting with "#" or ";" are errors
//     rather than silently becoming settings IRIS would reject;
//   - "[Name]" opens a section; a name is compared case-insensitively and a
//     repeated name continues the earlier section;
//   - inside a section other than [Actions], "key=value": the key is the text
//     before the first "=", non-empty and without blanks around it (blanks
//     inside are allowed for mapping keys such as Global_A("x y")); a key may
//     appear once per section, compared case-insensitively;
//   - inside [Actions], "Verb:Arg=Value,..." (see validateAction);
//   - values irisha sets itself are range-checked: [Startup] ShutdownTimeout
//     (120-100000) and [Startup] PasswordHash (hash,salt[,workfactor,algorithm]).
func ParseMerge(text string) (*MergeFile, error) {
	m := &MergeFile{}
	var cur *Section
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		fail := func(reason string) error { return &ParseError{Line: i + 1, Text: line, Reason: reason} }
		switch {
		case line == "":
			continue
		case line[0] == '#' || line[0] == ';':
			return nil, fail("is a comment, and CPF files have no comments")
		case line[0] == '[':
			name, ok := parseHeader(line)
			if !ok {
				return nil, fail(`is not a "[Section]" header with a valid name`)
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
			if !ok || !validKey(key) {
				return nil, fail(`is not "key=value" inside a [section]`)
			}
			if _, dup := cur.index(key); dup {
				return nil, fail(fmt.Sprintf("sets %s again in [%s]", key, cur.Name))
			}
			if err := validateKnown(cur.Name, key, value); err != nil {
				return nil, fail(err.Error())
			}
			cur.Settings = append(cur.Settings, Setting{Key: key, Value: value})
		}
	}
	return m, nil
}

func parseHeader(line string) (string, bool) {
	if len(line) < 2 || line[len(line)-1] != ']' {
		return "", false
	}
	name := line[1 : len(line)-1]
	return name, sectionName.MatchString(name)
}

// validKey mirrors what ParseMerge can read back: Render writes "key=value",
// so a key must not hold "=", line breaks or surrounding blanks, and must not
// start like a header or a comment.
func validKey(key string) bool {
	return key != "" && key == strings.TrimSpace(key) &&
		!strings.ContainsAny(key, "=\r\n") && !strings.ContainsAny(key[:1], "[#;")
}
