// Package iris is the only code in irisha that knows IRIS's text formats and
// command lines: CPF merge files, `iris qlist` output, and the `iris` commands
// the agent runs. Facts come from ../shared/reference/iris-facts.md.
package iris
