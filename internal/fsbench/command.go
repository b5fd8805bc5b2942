package fsbench

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// NewCommand returns the hidden `irisha-manager fsbench`: it measures and
// prints the Result as one JSON line, and writes it also to --result-file
// (the container's terminationMessagePath), where the kubelet picks it up
// into the pod's status. A failure is written there too, as Result.Error.
func NewCommand() *cobra.Command {
	opts := Options{Writes: DefaultWrites, BlockSize: DefaultBlockSize}
	var resultFile string
	cmd := &cobra.Command{
		Use:    Command,
		Short:  "Measure synchronous small-write latency (append + fsync) in a directory",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := Run(cmd.Context(), opts)
			if err != nil {
				r = Result{Error: err.Error()}
			}
			b, merr := json.Marshal(r)
			if merr != nil {
				return fmt.Errorf("encoding the result: %w", merr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			if resultFile != "" {
				if werr := os.WriteFile(resultFile, b, 0o644); werr != nil && err == nil {
					err = fmt.Errorf("writing the result to %s: %w", resultFile, werr)
				}
			}
			if err != nil {
				return fmt.Errorf("%w: %w", errResult, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, FlagDir[2:], ".", "directory of the scratch file (the volume under test)")
	f.IntVar(&opts.Writes, FlagWrites[2:], DefaultWrites, "timed appends, each followed by fsync")
	f.IntVar(&opts.BlockSize, FlagBlockSize[2:], DefaultBlockSize, "bytes per append")
	f.StringVar(&resultFile, FlagResultFile[2:], "", "also write the JSON result here (e.g. /dev/termination-log)")
	return cmd
}
