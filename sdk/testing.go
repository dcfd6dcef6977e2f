package sdk

import "github.com/hashicorp/go-plugin"

// TestPlugins returns the go-plugin plugin set that serves r, or s, exactly
// as Serve does in a plugin process (the base service included), for
// in-memory test harnesses such as sdk/sdktest, which connect it to the host
// side with plugin.TestPluginGRPCConn and Dispense. Exactly one of r and s
// must be non-nil; TestPlugins panics otherwise. A plugin's main function
// uses Serve, never this.
func TestPlugins(r Runner, s Sink) map[string]plugin.Plugin {
	info := Info{Plugin: "test", Version: "0.0.0", APIVersions: APIVersions}
	var component any
	switch {
	case r != nil && s == nil:
		info.Kind, info.Name, component = KindRunner, "test", r
	case s != nil && r == nil:
		info.Kind, info.Name, component = KindSink, "test", s
	default:
		panic("sdk.TestPlugins: exactly one of the runner and the sink must be non-nil")
	}
	set, _ := componentSet(info, component, false)
	return set
}
