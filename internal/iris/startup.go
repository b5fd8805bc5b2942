package iris

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The [Startup] settings irisha writes into the merge file it renders.
const (
	StartupSection     = "Startup"
	ShutdownTimeoutKey = "ShutdownTimeout"
	PasswordHashKey    = "PasswordHash"
)

// ShutdownTimeout bounds and default, in seconds (CPF reference).
const (
	MinShutdownTimeout     = 120
	MaxShutdownTimeout     = 100000
	DefaultShutdownTimeout = 300
)

// validateKnown checks the values of settings irisha relies on; any other
// setting is IRIS's business.
func validateKnown(section, key, value string) error {
	if !strings.EqualFold(section, StartupSection) {
		return nil
	}
	switch {
	case strings.EqualFold(key, ShutdownTimeoutKey):
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("sets %s to %q, which %w", ShutdownTimeoutKey, value, errNotANumber)
		}
		return ValidateShutdownTimeout(n)
	case strings.EqualFold(key, PasswordHashKey):
		return ValidatePasswordHash(value)
	}
	return nil
}

// ValidateShutdownTimeout checks [Startup] ShutdownTimeout's documented
// range, 120 to 100000 seconds.
func ValidateShutdownTimeout(seconds int) error {
	if seconds < MinShutdownTimeout || seconds > MaxShutdownTimeout {
		return fmt.Errorf("sets %s to %d s, outside IRIS's range %d-%d", ShutdownTimeoutKey, seconds, MinShutdownTimeout, MaxShutdownTimeout)
	}
	return nil
}

var (
	hexHash  = regexp.MustCompile(`^[0-9A-Fa-f]{20,}$`)
	saltForm = regexp.MustCompile(`^[0-9A-Za-z+/=._-]+$`)
)

// ValidatePasswordHash checks the [Startup] PasswordHash form
// "hash,salt[,workfactor,algorithm]": a hexadecimal hash, a salt, and
// optionally a positive work factor and SHA1, SHA256 or SHA512 (IRIS's
// defaults are 10000 and SHA512). The passwordhash image prints this form.
func ValidatePasswordHash(s string) error {
	if s != strings.TrimSpace(s) {
		return errors.New("has leading or trailing blanks or a line break (a Secret written with echo keeps its newline)")
	}
	parts := strings.Split(s, ",")
	if len(parts) != 2 && len(parts) != 4 {
		return errors.New(`is not "hash,salt" or "hash,salt,workfactor,algorithm"`)
	}
	if !hexHash.MatchString(parts[0]) {
		return errors.New("has a hash that is not hexadecimal (at least 20 digits)")
	}
	if !saltForm.MatchString(parts[1]) {
		return errors.New("has an empty or malformed salt")
	}
	if len(parts) == 4 {
		if n, err := strconv.Atoi(parts[2]); err != nil || n <= 0 || strconv.Itoa(n) != parts[2] {
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
