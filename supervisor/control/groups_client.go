package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// Group runs action ("start", "stop" or "restart") on every instance of
// the process block named name (a process with replicas, or a process of
// one instance) and returns the instances once done. With rolling (restart
// only), the instances restart one at a time, each once the previous one
// is ready: healthy where it has a health check, running otherwise.
func (c *Client) Group(ctx context.Context, action, name string, rolling bool) ([]Process, error) {
	if name == "" {
		return nil, errors.New("no process name")
	}
	path := "/v1/groups/" + nameSegment(name) + "/" + url.PathEscape(action)
	if rolling {
		path += "?rolling=true"
	}
	var ps []Process
	return ps, c.do(ctx, http.MethodPost, path, nil, &ps)
}
