package simirisha

import (
	"fmt"
	"path/filepath"

	"github.com/irisha/irisha/internal/testenv"
)

// Binaries are the programs the sim runs for irisha.
type Binaries struct {
	// Manager is the built cmd/irisha-manager (operator and agent).
	Manager string
	// Iris and IrisMain are the fake IRIS (hack/fake-iris) under the names
	// it acts by.
	Iris, IrisMain string
}

// Build builds cmd/irisha-manager and the fake IRIS into dir, once per
// process (later calls return the first build, whatever their dir), so dir
// must live as long as the test binary: make it in TestMain, not with
// t.TempDir.
func Build(dir string) (Binaries, error) {
	manager, err := testenv.GoBinary(dir, "./cmd/irisha-manager")
	if err != nil {
		return Binaries{}, fmt.Errorf("building irisha-manager: %w", err)
	}
	fake, err := testenv.FakeIris(dir)
	if err != nil {
		return Binaries{}, fmt.Errorf("building the fake IRIS: %w", err)
	}
	return Binaries{Manager: manager, Iris: filepath.Join(fake, "iris"), IrisMain: filepath.Join(fake, "iris-main")}, nil
}
