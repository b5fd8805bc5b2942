package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// newInstallCommand is `agent install DEST`: the init container copies the
// binary into the shared emptyDir. The irisha image has no shell, so the
// binary copies itself.
func newInstallCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "install DEST",
		Short: "Copy this binary to DEST (used by the init container of IRIS pods)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return installSelf(args[0])
		},
	}
}

func installSelf(dest string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("reading %s: %w", self, err)
	}
	defer func() { _ = src.Close() }()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".irisha-manager-")
	if err != nil {
		return fmt.Errorf("creating a file next to %s: %w", dest, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := io.Copy(tmp, src); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copying to %s: %w", dest, err)
	}
	if err := tmp.Chmod(0o555); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("making %s executable: %w", dest, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	// Rename, so the IRIS container never sees half a binary.
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("installing %s: %w", dest, err)
	}
	return nil
}
