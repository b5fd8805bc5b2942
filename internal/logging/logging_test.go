package logging

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/spf13/pflag"
)

func timestamp(t *testing.T, args ...string) string {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	o.zap.DestWriter = &buf
	o.Logger().Info("hello")
	var line struct{ TS string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	return line.TS
}

func TestTimestampsHaveMilliseconds(t *testing.T) {
	if ts := timestamp(t); !regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d{3}`).MatchString(ts) {
		t.Fatalf("default timestamp %q has no milliseconds", ts)
	}
	if ts := timestamp(t, "--zap-time-encoding=rfc3339"); regexp.MustCompile(`\.\d`).MatchString(ts) {
		t.Fatalf("--zap-time-encoding=rfc3339 gave %q: the flag must win over the default", ts)
	}
}
