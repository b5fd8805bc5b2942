package iris

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var (
	// actionVerb is the form of every documented verb (CreateDatabase,
	// ModifyService, GrantAdminPrivilege, ConfigMirror, Execute, ...). The
	// list itself is not checked: IRIS adds verbs between releases, and an
	// operator older than the image must not refuse them.
	actionVerb = regexp.MustCompile(`^[A-Za-z]+$`)
	argName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// validateAction checks one [Actions] line, "Verb:Arg=Value,Arg=Value".
// Values holding "," or "=" must be in double quotes (the documented rule),
// and inside quotes "" stands for one quote, as in ObjectScript strings.
func validateAction(line string) error {
	verb, args, ok := strings.Cut(line, ":")
	if !ok || !actionVerb.MatchString(verb) {
		return errors.New(`is not an action "Verb:Arg=Value,..."`)
	}
	if strings.TrimSpace(args) == "" {
		return fmt.Errorf("gives %s no arguments", verb)
	}
	parts, err := splitOutsideQuotes(args)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !argName.MatchString(name) {
			return fmt.Errorf("has an argument %q that is not Name=Value (quote values that hold \",\" or \"=\")", p)
		}
		if seen[strings.ToLower(name)] {
			return fmt.Errorf("gives %s twice", name)
		}
		seen[strings.ToLower(name)] = true
		if err := checkQuoting(value); err != nil {
			return fmt.Errorf("argument %s %w", name, err)
		}
	}
	return nil
}

// splitOutsideQuotes splits on commas that are not inside double quotes.
func splitOutsideQuotes(s string) ([]string, error) {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if quoted {
		return nil, errors.New("has an unclosed double quote")
	}
	return append(parts, s[start:]), nil
}

// checkQuoting accepts a bare value without quotes, "=" or ",", or a value
// wholly in double quotes whose inner quotes are doubled.
func checkQuoting(v string) error {
	if !strings.Contains(v, `"`) {
		if strings.ContainsAny(v, "=,") {
			return fmt.Errorf("has %q with \"=\" or \",\" outside double quotes", v)
		}
		return nil
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return fmt.Errorf("has %q with a quote that does not enclose the whole value", v)
	}
	inner := v[1 : len(v)-1]
	if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
		return fmt.Errorf("has %q with a single quote inside; write \"\" for a quote", v)
	}
	return nil
}
