// Package sdktest is the test kit of prox plugins: an in-process harness
// that puts prox's real gRPC client and the SDK's real server (as Serve
// runs it, on a unix socket) between a test and a runner or sink, a
// helper that configures a component as prox would, and the conformance
// suites that every runner and sink must pass (and ExecerSuite, for runners
// that run commands where their processes run).
//
// A runner's test:
//
//	func TestConformance(t *testing.T) {
//		sdktest.RunnerSuite(t, func(t *testing.T) sdk.Runner {
//			r := myrunner.New()
//			sdktest.Configure(t, r, map[string]any{"region": "eu"})
//			return r
//		}, sdktest.RunnerSuiteOptions{})
//	}
//
// A sink's test, which reads back what the sink delivered:
//
//	func TestConformance(t *testing.T) {
//		sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
//			s := mysink.New()
//			sdktest.Configure(t, s, map[string]any{"path": filepath.Join(t.TempDir(), "out.log")})
//			return s
//		}, sdktest.SinkSuiteOptions{Read: readMyFile})
//	}
//
// The suites run each check as a subtest with a fresh component from the
// factory, reached through the gRPC harness (as prox reaches it) unless the
// options say Direct. Their default processes are POSIX `sh -c` scripts;
// runners that cannot run those (a container image without a shell) pass
// their own commands in the options.
package sdktest
