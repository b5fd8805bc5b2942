// Command fake-iris stands in for IRIS where IRIS cannot run: install it as
// both `iris` and `iris-main` (symlinks). See internal/iris/fakeiris.
package main

import (
	"os"

	"github.com/irisha/irisha/internal/iris/fakeiris"
)

func main() {
	os.Exit(fakeiris.Main(os.Args, os.Stdout))
}
