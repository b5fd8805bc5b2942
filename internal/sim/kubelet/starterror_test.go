package kubelet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestIsStartError(t *testing.T) {
	startErr := exec.Command("/no/such/program").Start()
	_, openErr := os.Open("/no/such/file")
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"the image has no such program", &exec.Error{Name: "iris-main2", Err: exec.ErrNotFound}, true},
		{"wrapped", fmt.Errorf("runner: %w", &exec.Error{Name: "x", Err: exec.ErrNotFound}), true},
		{"the host cannot execute it", fmt.Errorf("starting: %w", startErr), true},
		{"another missing file", openErr, false},
		{"another error", errors.New("node killed"), false},
		{"none", nil, false},
	} {
		if got := IsStartError(c.err); got != c.want {
			t.Errorf("%s (%v): %t, want %t", c.name, c.err, got, c.want)
		}
	}
}
