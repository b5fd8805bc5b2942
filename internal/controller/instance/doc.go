// Package instance is the IrisInstance controller: it resolves what an
// instance references, asks internal/resources for the desired objects, writes
// only those that changed, and reports Ready, Progressing and Degraded. The
// decisions live in pure functions (resources.Build, computeStatus); this
// package only reads and writes.
package instance
