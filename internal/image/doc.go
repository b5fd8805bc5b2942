// Package image builds the irisha-manager container image without a
// container engine: one static binary per platform, each in a one-layer
// image on an empty base, gathered in an OCI image index (Index), and
// written as one archive that docker, podman, kind and crane all read
// (WriteArchive).
//
// Nothing here runs a compiler or touches the disk: the binaries come in as
// bytes, the archive goes out to an io.Writer. hack/image compiles and writes
// the file.
package image
