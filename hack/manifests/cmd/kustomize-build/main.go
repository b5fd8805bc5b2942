// Command kustomize-build is `kustomize build` for `make dist`, on
// sigs.k8s.io/kustomize/api (krusty), pinned in this module's go.mod, so
// that no kustomize or kubectl binary is needed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	out := flag.String("o", "", "file to write (default: standard output)")
	header := flag.String("header", "", `comment put first, each line (split at \n) prefixed with "# "`)
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: kustomize-build [-o file] [-header text] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *header); err != nil {
		fmt.Fprintln(os.Stderr, "kustomize-build:", err)
		os.Exit(1)
	}
}

func run(dir, out, header string) error {
	opts := krusty.MakeDefaultOptions()
	// The order is the kustomization's (sortOptions), as `kustomize build`
	// without --reorder.
	opts.Reorder = krusty.ReorderOptionUnspecified
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("building %s: %w", dir, err)
	}
	y, err := m.AsYaml()
	if err != nil {
		return fmt.Errorf("encoding %s: %w", dir, err)
	}
	var buf bytes.Buffer
	if header != "" {
		for _, line := range strings.Split(header, `\n`) {
			buf.WriteString("# " + line + "\n")
		}
	}
	buf.Write(y)
	if out == "" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}
