// Command fake-iris stands in for IRIS where IRIS cannot run. Install it as
// both `iris` and `iris-main` (symlinks); it acts as the name it is called
// by, and re-runs itself as the instance process. Behaviour, files and
// environment are documented in internal/iris/fakeiris.
package main

import (
	"os"

	"github.com/irisha/irisha/internal/iris/fakeiris"
)

func main() {
	os.Exit(fakeiris.Main(os.Args, os.Stdin, os.Stdout))
}
