package alerting

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttemptOutcomes pins how each answer is retried. A gateway's error
// (502, 503, 504: a proxy or load balancer in front of a receiver that is
// down) is retried as a receiver that cannot be reached, at most 1 s
// apart, so that the first alert reaches a receiver behind a proxy within
// about a second of its return too; other retried statuses back off to
// 10 s.
func TestAttemptOutcomes(t *testing.T) {
	status := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(<-status)
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	var c Counters
	s := NewSender(SenderConfig{URL: u, Endpoint: Endpoint(u), Timeout: 5 * time.Second, UserAgent: "test"}, &c)
	defer s.Close()

	for code, want := range map[int]Outcome{
		http.StatusOK: Delivered, http.StatusAccepted: Delivered,
		http.StatusBadGateway: Unreachable, http.StatusServiceUnavailable: Unreachable, http.StatusGatewayTimeout: Unreachable,
		http.StatusInternalServerError: Failing, http.StatusTooManyRequests: Failing, http.StatusRequestTimeout: Failing,
		http.StatusNotImplemented: Failing,
		http.StatusBadRequest:     Refused, http.StatusNotFound: Refused, http.StatusFound: Refused,
	} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			status <- code
			r := s.Post(context.Background(), []byte(`{}`), NewKey())
			assert.Equal(t, want, r.Outcome)
			assert.Equal(t, code, r.Status)
			if want != Delivered {
				assert.Equal(t, "status "+strconv.Itoa(code), r.Reason)
			}
		})
	}

	srv.Close()
	r := s.Post(context.Background(), []byte(`{}`), NewKey())
	assert.Equal(t, Unreachable, r.Outcome, "a receiver that is gone")
	assert.NotEmpty(t, r.Reason)
}
