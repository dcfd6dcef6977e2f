package control

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Client.Metrics returns GET /metrics as prox serves it; a prox that
// serves none answers 404.
func TestClientMetrics(t *testing.T) {
	inst := startInstance(t)
	_, err := inst.client.Metrics(testContext(t))
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusNotFound, apiErr.Status)

	socket := filepath.Join(t.TempDir(), "m.sock")
	ln, err := Listen(socket)
	require.NoError(t, err)
	text := "prox_process_memory_bytes{process=\"web\",replica=\"\"} 1024\n"
	srv := Serve(ln, Options{Supervisor: inst.sup, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(text))
	})})
	t.Cleanup(func() { require.NoError(t, srv.Close(context.Background())) })
	c := NewClient(socket)
	defer c.Close()
	got, err := c.Metrics(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, text, string(got))
}
