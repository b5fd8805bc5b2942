// Package logging sets up the logger of both irisha-manager commands: the
// operator and the agent share controller-runtime's zap logger and its flags.
package logging

import (
	"flag"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Options are the logger's settings, bound to the --zap-* flags.
type Options struct{ zap zap.Options }

// AddFlags adds the --zap-* flags (level, encoder, time encoding, ...) to
// fs. Timestamps default to milliseconds rather than controller-runtime's
// whole seconds: a failover takes seconds, and reading one from the logs of
// the operator and the agents needs to order what happened within them.
func AddFlags(fs *pflag.FlagSet) *Options {
	o := &Options{zap: zap.Options{TimeEncoder: zapcore.ISO8601TimeEncoder}}
	gofs := flag.NewFlagSet("log", flag.ContinueOnError)
	o.zap.BindFlags(gofs)
	fs.AddGoFlagSet(gofs)
	if f := fs.Lookup("zap-time-encoding"); f != nil {
		f.Usage = "Zap time encoding (one of 'epoch', 'millis', 'nano', 'iso8601', 'rfc3339' or 'rfc3339nano'); default iso8601, in milliseconds"
	}
	return o
}

// Logger builds the logger the flags describe.
func (o *Options) Logger() logr.Logger { return zap.New(zap.UseFlagOptions(&o.zap)) }
