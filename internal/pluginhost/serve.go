package pluginhost

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
)

// closeTimeout bounds the wait for an in-process component to stop
// serving once its connection is closed.
const closeTimeout = 10 * time.Second

// Serve serves the component of c named by component ("KIND.NAME", or ""
// when c has one) in this process and returns it as a host dispenses it,
// for tests and embedding (sdk/sdktest's harnesses): exactly the serving
// path of a plugin binary, through sdk.ServeDebug (go-plugin's test mode,
// on a real unix socket, with the plugin server's options), attached with
// go-plugin's Reattach, HostPlugins and the host's dial options. close
// closes the connection, waits until the component has stopped serving
// (a runner's remaining processes are killed, a Shutdowner's Shutdown
// runs unless the host called it) and returns ServeDebug's error; it
// leaves no goroutine of its own behind. c.Logger nil discards the
// component's logs.
func Serve(c *sdk.ServeConfig, component string) (d *Dispensed, close func() error, err error) {
	s, err := serve(c, component)
	if err != nil {
		return nil, nil, err
	}
	return s.Dispensed, s.close, nil
}

// served is a component served in this process and attached.
type served struct {
	*Dispensed
	// rpc is the host's connection (its Conn, for the generated clients).
	rpc *plugin.GRPCClient
	// stop cancels ServeDebug's context: the plugin goes away (kill waits
	// for it).
	stop context.CancelFunc
	// done receives ServeDebug's error, once.
	done chan error
	// ended is closed once ServeDebug has returned.
	ended  chan struct{}
	result error
	client *plugin.Client
}

func serve(c *sdk.ServeConfig, component string) (*served, error) {
	cfg := *c
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &served{stop: stop, done: make(chan error, 1), ended: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		err := sdk.ServeDebug(ctx, &cfg, component, pw)
		_ = pw.CloseWithError(fmt.Errorf("the component stopped serving: %w", err))
		s.result = err
		close(s.ended)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		stop()
		<-s.ended
		if s.result != nil {
			return nil, s.result
		}
		return nil, fmt.Errorf("serving %s: %w", component, err)
	}
	// Nothing else is written; drain in case, until ServeDebug returns.
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	fail := func(err error) (*served, error) {
		stop()
		<-s.ended
		return nil, err
	}
	value, ok := strings.CutPrefix(strings.TrimSpace(line), sdk.ReattachEnv+"=")
	if !ok {
		return fail(fmt.Errorf("serving %s: unexpected line %q", component, line))
	}
	rcs, err := ParseReattach(value)
	if err != nil {
		return fail(err)
	}
	var rc wire.ReattachConfig
	var kind sdk.Kind
	for id, r := range rcs {
		rc, kind = r, sdk.Kind(id[:strings.IndexByte(id, '.')])
	}
	addr, err := rc.Addr()
	if err != nil {
		return fail(err)
	}
	s.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.ClientOptions(),
		Logger:           hclog.NewNullLogger(),
		// Test: the plugin is this very process, which ends it itself.
		Reattach: &plugin.ReattachConfig{
			Protocol: plugin.Protocol(rc.Protocol), ProtocolVersion: rc.ProtocolVersion, Addr: addr, Pid: rc.PID, Test: true,
			ReattachFunc: func() (runner.AttachedRunner, error) { return inProcess{ended: s.ended}, nil },
		},
	})
	rpc, err := s.client.Client()
	if err != nil {
		s.client.Kill()
		return fail(err)
	}
	s.rpc = rpc.(*plugin.GRPCClient)
	if s.Dispensed, err = Dispense(rpc, kind); err != nil {
		_ = rpc.Close()
		s.client.Kill()
		return fail(err)
	}
	return s, nil
}

// kill makes the plugin go away without the host's word, as a plugin
// that died: ServeDebug's context is cancelled, and kill returns once it
// has stopped serving (and killed what a runner still ran).
func (s *served) kill() {
	s.stop()
	<-s.ended
}

// close ends the connection and waits for the component to stop serving.
func (s *served) close() error {
	_ = s.rpc.Close()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-s.ended:
	case <-t.C:
		s.stop() // the host's Close did not reach it: stop it anyway
		<-s.ended
	}
	s.stop()
	s.client.Kill()
	return s.result
}

// inProcess is go-plugin's handle on a component served in this process:
// it ends when ServeDebug returns, and Kill never kills.
type inProcess struct{ ended chan struct{} }

var _ runner.AttachedRunner = inProcess{}

func (p inProcess) Wait(ctx context.Context) error {
	select {
	case <-p.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (inProcess) Kill(context.Context) error { return nil }

func (inProcess) ID() string { return strconv.Itoa(os.Getpid()) }

func (inProcess) PluginToHost(network, address string) (string, string, error) {
	return network, address, nil
}

func (inProcess) HostToPlugin(network, address string) (string, string, error) {
	return network, address, nil
}
