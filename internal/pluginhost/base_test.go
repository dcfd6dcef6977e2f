package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newConfigurableHarness(t *testing.T) (*served, *configurableRunner) {
	t.Helper()
	cr := &configurableRunner{
		fakeRunner: newFakeRunner(t),
		configSchema: &sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "image", Type: sdk.TypeString, Required: true, Description: "The image to run."},
			{Name: "cpus", Type: sdk.TypeNumber},
			{Name: "privileged", Type: sdk.TypeBool, Description: "Run privileged."},
			{Name: "ports", Type: sdk.TypeListString},
			{Name: "labels", Type: sdk.TypeMapString},
		}},
		processSchema: &sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "memory", Type: sdk.TypeString, Required: true},
		}},
	}
	c := connect(t, &sdk.ServeConfig{Name: "myplugin", Version: "1.2.3", APIVersions: []int{1, 2}, Runners: map[string]sdk.Runner{"vm": cr}})
	return c, cr
}

func newSinkHarness(t *testing.T, sink sdk.Sink) *served {
	t.Helper()
	c := connect(t, &sdk.ServeConfig{Name: "myplugin", Version: "0.1.0", Sinks: map[string]sdk.Sink{"rec": sink}})
	require.NotNil(t, c.Sink)
	return c
}

func TestBaseInfo(t *testing.T) {
	c, _ := newConfigurableHarness(t)
	info, err := c.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &sdk.Info{Plugin: "myplugin", Name: "vm", Kind: sdk.KindRunner, Version: "1.2.3", APIVersions: []int{1, 2}, Command: sdk.CommandRequired}, info)

	s := newSinkHarness(t, &recordingSink{})
	info, err = s.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &sdk.Info{Plugin: "myplugin", Name: "rec", Kind: sdk.KindSink, Version: "0.1.0", APIVersions: sdk.APIVersions}, info)
}

// defaultCommandRunner is a runner with a default command.
type defaultCommandRunner struct{ *fakeRunner }

func (defaultCommandRunner) HasDefaultCommand() bool { return true }

// A runner says whether its processes need a command; a DefaultCommander
// makes it optional.
func TestBaseInfoCommand(t *testing.T) {
	r := defaultCommandRunner{newFakeRunner(t)}
	c := connect(t, &sdk.ServeConfig{Name: "p", Runners: map[string]sdk.Runner{"img": r}})
	info, err := c.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sdk.CommandOptional, info.Command)
}

// Configure tells a check (prox validate) from the real thing.
func TestBaseConfigureCheckOnly(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	values := []byte(`{"image":"busybox","cpus":null,"privileged":null,"ports":null,"labels":null}`)
	require.NoError(t, c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: values, CheckOnly: true}))
	require.NoError(t, c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: values}))
	cr.mu.Lock()
	got := cr.configs
	cr.mu.Unlock()
	require.Len(t, got, 2)
	assert.True(t, got[0].CheckOnly)
	assert.False(t, got[1].CheckOnly)
}

func TestBaseSchemas(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	config, process, err := c.Base.Schemas(context.Background())
	require.NoError(t, err)
	assert.Equal(t, cr.configSchema, config)
	assert.Equal(t, cr.processSchema, process)

	// A component without the optional interfaces has no schemas.
	s := newSinkHarness(t, &recordingSink{})
	config, process, err = s.Base.Schemas(context.Background())
	require.NoError(t, err)
	assert.Nil(t, config)
	assert.Nil(t, process)
}

func TestBaseSchemasEmpty(t *testing.T) {
	// An empty schema (a block without attributes) is not "no schema".
	c, cr := newConfigurableHarness(t)
	cr.configSchema = &sdk.Schema{}
	cr.processSchema = nil
	config, process, err := c.Base.Schemas(context.Background())
	require.NoError(t, err)
	assert.NotNil(t, config)
	assert.Empty(t, config.Attributes)
	assert.Nil(t, process)
}

func TestBaseConfigure(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	values := `{"image":"busybox","cpus":1.5,"privileged":true,"ports":["80","443"],"labels":{"team":"core"},"unset":null}`
	require.NoError(t, c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 2, Values: []byte(values)}))

	require.Len(t, cr.configs, 1)
	got := cr.configs[0]
	assert.Equal(t, 2, got.APIVersion)
	assert.JSONEq(t, values, string(got.Values))
	var v struct {
		Image      string            `json:"image"`
		CPUs       float64           `json:"cpus"`
		Privileged bool              `json:"privileged"`
		Ports      []string          `json:"ports"`
		Labels     map[string]string `json:"labels"`
		Unset      *string           `json:"unset"`
	}
	require.NoError(t, got.Decode(&v))
	assert.Equal(t, "busybox", v.Image)
	assert.Equal(t, 1.5, v.CPUs)
	assert.True(t, v.Privileged)
	assert.Equal(t, []string{"80", "443"}, v.Ports)
	assert.Equal(t, map[string]string{"team": "core"}, v.Labels)
	assert.Nil(t, v.Unset)

	// An absent block: no values.
	require.NoError(t, c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1}))
	require.Len(t, cr.configs, 2)
	assert.Equal(t, 1, cr.configs[1].APIVersion)
	assert.Empty(t, cr.configs[1].Values)
}

func TestBaseConfigureError(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	cr.configureErr = errors.New(`image "busybox:nope" does not exist`)
	err := c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: []byte(`{}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `image "busybox:nope" does not exist`)
}

func TestBaseConfigureAttributeErrorsCrossTheWire(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	cr.configureErr = errors.Join(
		sdk.AttributeErrorf("url", "must start with http:// or https://"),
		fmt.Errorf("match: %w", sdk.AttributeErrorf("match", "invalid regular expression: %w", errors.New("missing ]"))),
		errors.New("nothing triggers an alert"),
	)
	err := c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: []byte(`{}`)})
	var ce *ConfigureError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, cr.configureErr.Error(), ce.Message, "the whole message")
	assert.Equal(t, "configure: "+cr.configureErr.Error(), err.Error())
	got := sdk.AttributeErrors(err)
	require.Len(t, got, 2)
	assert.Equal(t, "url", got[0].Attribute)
	assert.Equal(t, "must start with http:// or https://", got[0].Err.Error())
	assert.Equal(t, "match", got[1].Attribute)
	assert.Equal(t, "invalid regular expression: missing ]", got[1].Err.Error())
	assert.Equal(t, []string{"nothing triggers an alert"}, ce.Others)

	// Without an attribute error, a plain error as before.
	cr.configureErr = errors.New("no luck")
	err = c.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: []byte(`{}`)})
	assert.EqualError(t, err, "configure: no luck")
	assert.False(t, errors.As(err, &ce))
}

func TestBaseConfigureNotConfigurable(t *testing.T) {
	s := newSinkHarness(t, &recordingSink{})
	require.NoError(t, s.Base.Configure(context.Background(), &sdk.Config{APIVersion: 1, Values: []byte(`{"a":1}`)}))
}

func TestBaseShutdown(t *testing.T) {
	c, cr := newConfigurableHarness(t)
	require.NoError(t, c.Base.Shutdown(context.Background()))
	assert.Equal(t, 1, cr.shutdowns)

	cr.shutdownErr = errors.New("cannot release the VM pool")
	err := c.Base.Shutdown(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot release the VM pool")
	assert.Equal(t, 2, cr.shutdowns)

	// Without Shutdowner there is nothing to call, and no error.
	s := newSinkHarness(t, &recordingSink{})
	require.NoError(t, s.Base.Shutdown(context.Background()))
}
