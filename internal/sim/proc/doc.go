// Package proc starts and ends the local processes of the simulated cluster
// (control-plane binaries, kwok, and processes run "on" a simulated node).
//
// Every process gets its own process group so that signals reach exactly what
// the sim started and its children, never anything found by name; an
// inherited environment tag (EnvTag) also finds the daemons that left the
// group, standing in for a container's cgroup. A Registry
// remembers every PID ever started so tests can assert that none survives.
package proc
