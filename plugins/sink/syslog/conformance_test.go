package syslog

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
)

// TestConformance runs the SDK's sink conformance suite against the syslog
// sink, through the gRPC adapters as prox uses it, delivering over TCP to a
// private rsyslogd. rsyslogd rewrites what it stores (control characters
// escaped, long messages cut), so the suite checks the protocol: ordered
// and acknowledged batches, Flush and Close, cancellation. What arrives is
// checked by the sink's own tests.
func TestConformance(t *testing.T) {
	r := startRsyslogd(t, nil)
	sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
		s := testSink(t)
		sdktest.Configure(t, s, map[string]any{"address": r.Address("tcp")})
		return s
	}, sdktest.SinkSuiteOptions{})
}
