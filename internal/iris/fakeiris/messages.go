package fakeiris

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Severities of messages.log lines: 0 information, 1 warning, 2 severe
// (severe lines raise the System Monitor's alert state).
const (
	sevInfo   = 0
	sevSevere = 2
)

// messages writes IRIS's messages.log: "MM/DD/YY-HH:MM:SS:mmm (pid) sev
// [Category] text", to mgr/messages.log and to out (iris-main streams the
// log to the container's output, so the lines show in `kubectl logs`).
type messages struct {
	cfg config
	out io.Writer
	now func() time.Time
}

func (m messages) log(sev int, category, format string, args ...any) {
	t := m.now()
	line := fmt.Sprintf("%s:%03d (%d) %d [%s] %s\n", t.Format("01/02/06-15:04:05"), t.Nanosecond()/1e6,
		os.Getpid(), sev, category, fmt.Sprintf(format, args...))
	if f, err := os.OpenFile(m.cfg.mgr("messages.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		_, _ = f.WriteString(line)
		_ = f.Close()
	}
	if m.out != nil {
		_, _ = io.WriteString(m.out, line)
	}
}
