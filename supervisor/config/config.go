package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults applied to optional settings of prox.hcl alone; the
// supervisor's terms and defaults (restart policies, stop, backoff, restart
// limit, health checks) are those of package policy.
const (
	// DefaultRunner is the runner kind used when a process sets no runner.
	DefaultRunner = "exec"
	// DefaultLogLines is how many output lines are kept per process.
	DefaultLogLines = 1000
)

// Config is a loaded prox.hcl file.
//
// Load and Parse return a Config even when the file has errors, so that
// Files can be used to render diagnostics; in that case its content is
// incomplete and must not be used to run anything.
type Config struct {
	// Path is the absolute path of the configuration file.
	Path string
	// Dir is the absolute folder of the configuration file; relative paths
	// in the file are resolved against it.
	Dir string
	// PluginDir is the absolute folder where external plugins are looked
	// up (plugin_dir); default "" (not set).
	PluginDir string
	// Socket is the absolute path of the control socket (socket); default
	// "" (.prox/prox.sock beside the file; -socket and PROX_SOCKET win).
	Socket string
	// Processes are the process blocks, in file order, each decoded as
	// its first instance (replica = 0); Instances lists what runs.
	Processes []*Process
	// Runners are the runner "KIND" "NAME" blocks, in file order.
	Runners []*PluginBlock
	// Sinks are the sink "KIND" "NAME" blocks, in file order.
	Sinks []*PluginBlock
	// Plugins are the plugin "NAME" blocks, in file order.
	Plugins []*Plugin
	// Metrics is the metrics block; nil without one (no TCP listener).
	Metrics *Metrics
	// Dotenv holds the variables of the dotenv file (.env beside the file,
	// or -env-file), nil when none was read. They are below every
	// process's env_file and env, above prox's own environment; env()
	// sees them below prox's environment.
	Dotenv map[string]string
	// DotenvFile is the absolute path of the dotenv file read; "" if none.
	DotenvFile string
	// Files maps the file name used in diagnostics to the parsed file, for
	// rendering diagnostics with source snippets.
	Files map[string]*hcl.File
}

// Process is a process "NAME" block.
type Process struct {
	// Name is the block label.
	Name string
	// Command is the argv (command); default nil, meaning the runner's
	// default command. An explicitly empty list is an error.
	Command []string
	// Env holds the env attribute only; default empty.
	Env map[string]string
	// EnvFile is the absolute path of the dotenv file (env_file); default "".
	EnvFile string
	// Dir is the absolute working folder (dir); default the Config's Dir.
	Dir string
	// DirRaw is dir as written, not resolved against the config's folder;
	// "" when unset. Runners whose processes run elsewhere (a container,
	// another host) take this one.
	DirRaw string
	// Runner is the runner reference (runner); default Kind DefaultRunner
	// and an empty Name.
	Runner Ref
	// RunnerRange is the range of the runner attribute's value, or of the
	// block header when the runner is defaulted.
	RunnerRange hcl.Range
	// Sinks are the sink references (sinks); default none.
	Sinks []Ref
	// SinkRanges holds one range per Sinks element: the element expression
	// when the list is written literally, else the attribute's value.
	SinkRanges []hcl.Range
	// Stop holds the stop block settings; see Stop for defaults.
	Stop Stop
	// Restart holds the restart block settings; see Restart for defaults.
	Restart Restart
	// LogLines is how many of its last output lines prox keeps for
	// queries (log_lines); default DefaultLogLines.
	LogLines int
	// DependsOn lists the processes this one waits for (depends_on), in
	// the order written; default none.
	DependsOn []Dependency
	// Health is the health block; default nil (no check).
	Health *Health
	// RunnerBody is the body of the block named after Runner.Kind; default
	// nil (no such block).
	RunnerBody hcl.Body
	// RunnerBodyRange is the DefRange of that block; zero when RunnerBody is nil.
	RunnerBodyRange hcl.Range
	// CommandRange, EnvFileRange and DirRange are the ranges of the
	// command, env_file and dir values; zero when the attribute is absent.
	CommandRange, EnvFileRange, DirRange hcl.Range
	// DeclRange is the process block's DefRange.
	DeclRange hcl.Range

	// Group is the name of the process block this process is an instance
	// of (its label); the same as Name for a block with one instance.
	Group string
	// Replica is the instance's index, from 0: the value of the replica
	// variable in the block's expressions, and of PROX_REPLICA.
	Replica int
	// Replicas is how many instances the block runs (replicas); default 1.
	Replicas int
	// ReplicasRange is the range of the replicas value; zero when absent.
	ReplicasRange hcl.Range

	// block and dec decode the block again for another instance (Expand);
	// instances are the block's instances: set on the elements of
	// Config.Processes only.
	block     *hcl.Block
	dec       *decoder
	instances []*Process
	// replicated is set when replicas is written, or the block was
	// expanded (Expand): see Replicated.
	replicated bool
}

// Stop is the stop block of a process.
type Stop struct {
	// Signal is the canonical ("SIGTERM" form) stop signal (signal);
	// default the name of policy.DefaultStopSignal.
	Signal string
	// Timeout is how long to wait before killing (timeout); default
	// policy.DefaultStopTimeout; must be > 0.
	Timeout time.Duration
}

// Restart is the restart block of a process.
type Restart struct {
	// Policy is one of policy.RestartNever, RestartOnFailure and RestartAlways
	// (policy); default policy.DefaultRestartPolicy.
	Policy string
	// Backoff is the initial restart delay (backoff); default
	// policy.DefaultBackoff; must be >= 0.
	Backoff time.Duration
	// MaxBackoff caps the delay (max_backoff); default policy.DefaultMaxBackoff;
	// must be > 0 and >= Backoff.
	MaxBackoff time.Duration
	// ResetAfter is the run time after which the backoff resets
	// (reset_after); default policy.DefaultResetAfter; must be > 0.
	ResetAfter time.Duration
	// Window is the period over which restarts are counted (window);
	// default policy.DefaultWindow; must be > 0.
	Window time.Duration
	// MaxRestarts is the number of restarts allowed within Window
	// (max_restarts); default policy.DefaultMaxRestarts; must be >= 0.
	MaxRestarts int
	// SuccessCodes are the exit codes counted as success (success_codes);
	// default policy.DefaultSuccessCodes(); each in 0..255.
	SuccessCodes []int
}

// PluginBlock is a runner "KIND" "NAME" or sink "KIND" "NAME" block. Its
// body is decoded later against the plugin's schema.
type PluginBlock struct {
	// Kind is the first label.
	Kind string
	// Name is the second label.
	Name string
	// Body is the undecoded block body.
	Body hcl.Body
	// DeclRange is the block's DefRange.
	DeclRange hcl.Range
}

// Ref returns the reference ("KIND.NAME") that designates the block.
func (b *PluginBlock) Ref() Ref { return Ref{Kind: b.Kind, Name: b.Name} }

// Plugin is a plugin "NAME" block: an external plugin binary.
type Plugin struct {
	// Name is the block label.
	Name string
	// Path is the absolute path of the binary (path); required.
	Path string
	// SHA256 is the expected lowercase hex SHA-256 of the binary (sha256);
	// default "" (not checked).
	SHA256 string
	// Override lets this plugin replace a built-in runner or sink of the
	// same name (override); default false: the built-in wins.
	Override bool
	// PathRange and SHA256Range are the ranges of the path and sha256
	// values; zero when absent.
	PathRange, SHA256Range hcl.Range
	// DeclRange is the block's DefRange.
	DeclRange hcl.Range
}

// Ref designates a runner or sink: a plain kind ("exec") or a configured
// instance of a kind ("container.db").
type Ref struct {
	// Kind is the plugin kind.
	Kind string
	// Name is the instance name; "" for a plain kind.
	Name string
}

// String returns "kind" or "kind.name".
func (r Ref) String() string {
	if r.Name == "" {
		return r.Kind
	}
	return r.Kind + "." + r.Name
}

// Process returns the process named name, or nil if there is none.
func (c *Config) Process(name string) *Process {
	for _, p := range c.Processes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Runner returns the runner block designated by ref, or nil if there is none.
func (c *Config) Runner(ref Ref) *PluginBlock { return findBlock(c.Runners, ref) }

// Sink returns the sink block designated by ref, or nil if there is none.
func (c *Config) Sink(ref Ref) *PluginBlock { return findBlock(c.Sinks, ref) }

// Plugin returns the plugin block named name, or nil if there is none.
func (c *Config) Plugin(name string) *Plugin {
	for _, p := range c.Plugins {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func findBlock(blocks []*PluginBlock, ref Ref) *PluginBlock {
	for _, b := range blocks {
		if b.Kind == ref.Kind && b.Name == ref.Name {
			return b
		}
	}
	return nil
}
