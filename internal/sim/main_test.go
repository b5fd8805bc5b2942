package sim_test

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func TestMain(m *testing.M) {
	if os.Getenv(envWhoami) != "" {
		// Started by the simulated kubelet as a container's process.
		os.Exit(whoami())
	}
	// controller-runtime wants its global logger set once; the sim passes
	// its own logger to the managers it runs.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
