package control

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingReloader answers as it is told and records what it was asked.
type recordingReloader struct {
	res    ReloadResult
	err    error
	dryRun []bool
	counts []map[string]int
}

func (r *recordingReloader) Reload(_ context.Context, dryRun bool) (ReloadResult, error) {
	r.dryRun = append(r.dryRun, dryRun)
	return r.res, r.err
}

func (r *recordingReloader) Scale(_ context.Context, counts map[string]int, dryRun bool) (ReloadResult, error) {
	r.dryRun = append(r.dryRun, dryRun)
	r.counts = append(r.counts, counts)
	return r.res, r.err
}

// serveReloader serves the API with reloader (none when nil).
func serveReloader(t *testing.T, reloader Reloader) *Client {
	t.Helper()
	sup := supervisor.New(nil, supervisor.Options{})
	require.NoError(t, sup.Start(context.Background()))
	ln, err := Listen(filepath.Join(t.TempDir(), ".prox", "prox.sock"))
	require.NoError(t, err)
	opts := Options{Supervisor: sup, Logger: hclog.NewNullLogger()}
	if reloader != nil {
		opts.Reloader = reloader
	}
	server := Serve(ln, opts)
	client := NewClient(ln.Path())
	t.Cleanup(func() {
		client.Close()
		require.NoError(t, server.Close(context.Background()))
		require.NoError(t, sup.Stop(context.Background()))
	})
	return client
}

func TestReloadRoute(t *testing.T) {
	r := &recordingReloader{res: ReloadResult{Applied: true, Add: []string{"worker"}, Unchanged: []string{"web"}}}
	client := serveReloader(t, r)
	res, err := client.Reload(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, r.res, *res)
	_, err = client.Reload(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, r.dryRun)

	// An empty body is no dry run; a bad one is refused.
	_, err = client.doBody(http.MethodPost, "/v1/reload", "")
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false}, r.dryRun)
	_, err = client.doBody(http.MethodPost, "/v1/reload", "{")
	assert.True(t, IsCode(err, CodeInvalidArgument), "%v", err)

	// The reloader's refusals pass through as they are.
	r.err = &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidConfig, Message: "Error: Missing expression\n\n  on prox.hcl line 3"}
	_, err = client.Reload(context.Background(), false)
	require.True(t, IsCode(err, CodeInvalidConfig), "%v", err)
	assert.Contains(t, err.Error(), "prox.hcl line 3")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnprocessableEntity, ae.Status)
}

func TestScaleRoute(t *testing.T) {
	r := &recordingReloader{res: ReloadResult{Applied: true, Add: []string{"web.2"}}}
	client := serveReloader(t, r)
	res, err := client.Scale(context.Background(), map[string]int{"web": 3}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"web.2"}, res.Add)
	assert.Equal(t, []map[string]int{{"web": 3}}, r.counts)

	for _, body := range []string{`{"counts": {"web": 0}}`, `{"counts": {"web": -2}}`, `{"counts": {}}`, `{}`, `{"counts": {"web": "abc"}}`} {
		_, err := client.doBody(http.MethodPost, "/v1/scale", body)
		assert.True(t, IsCode(err, CodeInvalidArgument), "%s: %v", body, err)
	}
	assert.Len(t, r.counts, 1, "a bad body reaches no reloader")
}

func TestReloadRoutesWithoutAReloader(t *testing.T) {
	client := serveReloader(t, nil)
	_, err := client.Reload(context.Background(), false)
	assert.True(t, IsCode(err, CodeNotImplemented), "%v", err)
	_, err = client.Scale(context.Background(), map[string]int{"web": 2}, false)
	assert.True(t, IsCode(err, CodeNotImplemented), "%v", err)
}

// doBody posts a raw body and returns the answer's status or its error.
func (c *Client) doBody(method, path, body string) (int, error) {
	var out map[string]any
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	if err := c.do(context.Background(), method, path, b, &out); err != nil {
		return 0, err
	}
	return http.StatusOK, nil
}

// A body with a member the route does not know is refused, naming it: a
// {"dryRun": true} meant to plan must not apply the reload or the scale.
func TestReloadAndScaleRefuseUnknownMembers(t *testing.T) {
	r := &recordingReloader{}
	client := serveReloader(t, r)
	for _, tc := range []struct{ path, body, member string }{
		{"/v1/reload", `{"dryRun": true}`, "dryRun"},
		{"/v1/reload", `{"dry_run": true, "force": true}`, "force"},
		{"/v1/scale", `{"counts": {"web": 2}, "dryRun": true}`, "dryRun"},
		{"/v1/scale", `{"count": {"web": 2}}`, "count"},
	} {
		_, err := client.doBody(http.MethodPost, tc.path, tc.body)
		assert.True(t, IsCode(err, CodeInvalidArgument), "%s %s: %v", tc.path, tc.body, err)
		assert.ErrorContains(t, err, `unknown field "`+tc.member+`"`, "%s %s", tc.path, tc.body)
	}
	for _, body := range []string{`{"dry_run": true} x`, `{"dry_run": true}}`, `{"dry_run": true} {}`} {
		_, err := client.doBody(http.MethodPost, "/v1/reload", body)
		assert.True(t, IsCode(err, CodeInvalidArgument), "%s: %v", body, err)
	}
	assert.Empty(t, r.dryRun, "neither reloaded nor scaled")
	assert.Empty(t, r.counts)

	// The members the routes know, in any letter case as before.
	_, err := client.doBody(http.MethodPost, "/v1/reload", `{"DRY_RUN": true}`)
	require.NoError(t, err)
	_, err = client.doBody(http.MethodPost, "/v1/scale", `{"counts": {"web": 2}, "dry_run": true}`)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, r.dryRun)
}
