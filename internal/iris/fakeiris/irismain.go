package fakeiris

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// irisMain is the container entrypoint: it starts the instance (a child
// process in its own session, as IRIS's daemons are) and stops it cleanly on
// SIGTERM or SIGINT.
func irisMain(args []string, stdout io.Writer) int {
	in, err := newInstance()
	if err != nil {
		fmt.Fprintln(stdout, "iris-main:", err)
		return 1
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--up" && args[i+1] == "false" {
			select {} // like iris-main --up false: do not start, stay up
		}
	}
	if err := prepareDurableSys(in.dataDir); err != nil {
		fmt.Fprintln(stdout, "iris-main:", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	daemon := exec.Command(os.Args[0], daemonArg)
	daemon.Env = os.Environ()
	daemon.Stdout, daemon.Stderr = stdout, stdout
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := daemon.Start(); err != nil {
		fmt.Fprintln(stdout, "iris-main: starting the instance:", err)
		return 1
	}
	exited := make(chan int, 1)
	go func() {
		err := daemon.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		exited <- code
	}()
	for {
		select {
		case sig := <-sigs:
			fmt.Fprintf(stdout, "iris-main: %s: stopping IRIS\n", sig)
			_ = daemon.Process.Signal(syscall.SIGTERM)
			<-exited
			fmt.Fprintln(stdout, "iris-main: IRIS stopped; Journal restore not required at next startup")
			return 0
		case code := <-exited:
			if code == 0 {
				fmt.Fprintln(stdout, "iris-main: IRIS was stopped")
				return 0
			}
			fmt.Fprintf(stdout, "iris-main: IRIS exited with %d\n", code)
			return 1
		}
	}
}

// prepareDurableSys applies durable %SYS's rule: an empty or missing
// directory is initialised; one with data but no mgr/ is refused.
func prepareDurableSys(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	hasMgr := false
	for _, e := range entries {
		if e.Name() == "mgr" {
			hasMgr = true
		}
	}
	if len(entries) > 0 && !hasMgr {
		return fmt.Errorf("durable %%SYS directory %s is not empty and has no mgr/; refusing to start", dir)
	}
	return os.MkdirAll(dir+"/mgr", 0o755)
}

// daemon is the running instance.
func daemon(stdout io.Writer) int {
	in, err := newInstance()
	if err != nil {
		fmt.Fprintln(stdout, "iris:", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM)
	_ = in.save(state{Pid: os.Getpid()})
	time.Sleep(envDuration("FAKEIRIS_START_DELAY", 0))

	addr := os.Getenv("FAKEIRIS_SUPERSERVER")
	if addr == "" {
		addr = "127.0.0.1:1972"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(stdout, "iris: superserver:", err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	journal, err := os.OpenFile(in.mgr("journal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(stdout, "iris: journal:", err)
		return 1
	}
	w := bufio.NewWriter(journal)
	seq := lastSeq(in.mgr("journal.log"))
	_ = in.save(state{Pid: os.Getpid(), Up: true, Since: time.Now()})
	fmt.Fprintln(stdout, "iris: Enabling logons")

	tick := time.NewTicker(envDuration("FAKEIRIS_JOURNAL_INTERVAL", 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-sigs:
			time.Sleep(envDuration("FAKEIRIS_STOP_DELAY", 0))
			_ = in.update(func(s *state) { s.Up = false })
			_ = ln.Close()
			return 0
		case <-tick.C:
			if in.control("crash") {
				fmt.Fprintln(stdout, "iris: crashing as scripted")
				return 3
			}
			seq++
			fmt.Fprintf(w, "%d %d %d\n", seq, os.Getpid(), time.Now().UnixNano())
			_ = w.Flush()
			_ = journal.Sync()
		}
	}
}

// lastSeq returns the last sequence number in the journal, so a restarted
// instance continues it.
func lastSeq(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	var last int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var seq int64
		if _, err := fmt.Sscan(sc.Text(), &seq); err == nil {
			last = seq
		}
	}
	return last
}
