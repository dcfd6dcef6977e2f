package loader

import (
	"github.com/hashicorp/go-hclog"
)

// pluginLogger is the logger go-plugin is given for one plugin process.
// go-plugin relays each JSON log line of the plugin through it, naming the
// logger after the plugin's binary (always "prox" for a built-in) and
// adding the plugin's own timestamp and hclog's "@module" as arguments:
// "prox.plugin.prox: ... component=sink.syslog @module=syslog
// timestamp=...". A prox user wants one time and one name per line, so the
// logger keeps the name prox gave it (prox.sink.syslog) and drops those
// arguments.
type pluginLogger struct {
	hclog.Logger
}

// newPluginLogger names l after the component ("sink.syslog").
func newPluginLogger(l hclog.Logger, component string) hclog.Logger {
	return pluginLogger{l.Named(component)}
}

// dropped are the arguments go-plugin and hclog's JSON format add that
// repeat what the line already says.
var dropped = map[string]bool{"timestamp": true, "@module": true, "@caller": true}

func clean(args []any) []any {
	out := args[:0:0]
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && dropped[k] {
			continue
		}
		out = append(out, args[i], args[i+1])
	}
	if len(args)%2 == 1 {
		out = append(out, args[len(args)-1])
	}
	return out
}

func (p pluginLogger) Log(level hclog.Level, msg string, args ...any) {
	p.Logger.Log(level, msg, clean(args)...)
}
func (p pluginLogger) Trace(msg string, args ...any) { p.Logger.Trace(msg, clean(args)...) }
func (p pluginLogger) Debug(msg string, args ...any) { p.Logger.Debug(msg, clean(args)...) }
func (p pluginLogger) Info(msg string, args ...any)  { p.Logger.Info(msg, clean(args)...) }
func (p pluginLogger) Warn(msg string, args ...any)  { p.Logger.Warn(msg, clean(args)...) }
func (p pluginLogger) Error(msg string, args ...any) { p.Logger.Error(msg, clean(args)...) }

// Named keeps the component's name: go-plugin names its logger after the
// plugin's binary, which says nothing here.
func (p pluginLogger) Named(string) hclog.Logger { return p }

// With keeps the wrapper around the logger with args.
func (p pluginLogger) With(args ...any) hclog.Logger {
	return pluginLogger{p.Logger.With(clean(args)...)}
}

// ResetNamed keeps the component's name too.
func (p pluginLogger) ResetNamed(string) hclog.Logger { return p }
