package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/supervisor/policy"
)

// DefaultHTTPStatus is the status an http check expects.
const DefaultHTTPStatus = 200

// What on_unhealthy accepts.
const (
	// OnUnhealthyIgnore only reports the status (readiness).
	OnUnhealthyIgnore = "ignore"
	// OnUnhealthyRestart also restarts an unhealthy process (liveness).
	OnUnhealthyRestart = "restart"
)

// Health is the health block of a process: one check, run periodically
// while the process runs. It gates dependents that wait for "healthy".
type Health struct {
	// Check is "http", "tcp", "exec" or "log": the one check block.
	Check string
	// HTTP is set for an http check.
	HTTP *HTTPCheck
	// TCP is set for a tcp check.
	TCP *TCPCheck
	// Exec is set for an exec check.
	Exec *ExecCheck
	// Log is set for a log check.
	Log *LogCheck
	// Interval between checks (interval); default policy.DefaultHealthInterval; > 0.
	Interval time.Duration
	// Timeout of one check (timeout); default policy.DefaultHealthTimeout; > 0.
	Timeout time.Duration
	// InitialDelay before the first check (initial_delay); default 0; >= 0.
	InitialDelay time.Duration
	// SuccessThreshold (success_threshold); default policy.DefaultSuccessThreshold; >= 1.
	SuccessThreshold int
	// FailureThreshold (failure_threshold); default policy.DefaultFailureThreshold; >= 1.
	FailureThreshold int
	// OnUnhealthy is OnUnhealthyIgnore (default) or OnUnhealthyRestart.
	OnUnhealthy string
	// CheckRange is the check block's DefRange.
	CheckRange hcl.Range
	// DeclRange is the health block's DefRange.
	DeclRange hcl.Range
}

// HTTPCheck passes when a GET of URL answers Status.
type HTTPCheck struct {
	// URL is required: http or https with a host.
	URL string
	// Status is the expected status (status); default DefaultHTTPStatus.
	Status int
}

// TCPCheck passes when Address accepts a connection.
type TCPCheck struct {
	// Address is required: host:port.
	Address string
}

// ExecCheck passes when Command exits 0. It runs where the process runs.
type ExecCheck struct {
	// Command is required: argv.
	Command []string
}

// LogCheck passes once the process printed a line matching Match.
type LogCheck struct {
	// Match is a required RE2 regular expression.
	Match string
}

var healthSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "interval"}, {Name: "timeout"}, {Name: "initial_delay"},
		{Name: "success_threshold"}, {Name: "failure_threshold"}, {Name: "on_unhealthy"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "http"}, {Type: "tcp"}, {Type: "exec"}, {Type: "log"}},
}

var checkSchemas = map[string]*hcl.BodySchema{
	"http": {Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "status"}}},
	"tcp":  {Attributes: []hcl.AttributeSchema{{Name: "address", Required: true}}},
	"exec": {Attributes: []hcl.AttributeSchema{{Name: "command", Required: true}}},
	"log":  {Attributes: []hcl.AttributeSchema{{Name: "match", Required: true}}},
}

func (d *decoder) decodeHealth(block *hcl.Block) (*Health, hcl.Diagnostics) {
	h := &Health{
		Interval: policy.DefaultHealthInterval, Timeout: policy.DefaultHealthTimeout,
		SuccessThreshold: policy.DefaultSuccessThreshold, FailureThreshold: policy.DefaultFailureThreshold,
		OnUnhealthy: OnUnhealthyIgnore, DeclRange: block.DefRange,
	}
	content, diags := block.Body.Content(healthSchema)
	for name, check := range map[string]durationCheck{"interval": positive, "timeout": positive, "initial_delay": nonNegative} {
		attr := content.Attributes[name]
		if attr == nil {
			continue
		}
		v, ok, dd := d.duration(attr, "health "+name, check)
		diags = append(diags, dd...)
		if !ok {
			continue
		}
		switch name {
		case "interval":
			h.Interval = v
		case "timeout":
			h.Timeout = v
		case "initial_delay":
			h.InitialDelay = v
		}
	}
	for _, name := range []string{"success_threshold", "failure_threshold"} {
		attr := content.Attributes[name]
		if attr == nil {
			continue
		}
		n, ok, dd := evalInt(attr.Expr, d.ctx, "health "+name)
		diags = append(diags, dd...)
		if !ok {
			continue
		}
		if n < 1 {
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid threshold",
				fmt.Sprintf("The health %s must be at least 1; %d is not.", name, n)))
			continue
		}
		if name == "success_threshold" {
			h.SuccessThreshold = n
		} else {
			h.FailureThreshold = n
		}
	}
	if attr := content.Attributes["on_unhealthy"]; attr != nil {
		s, ok, dd := evalString(attr.Expr, d.ctx, "on_unhealthy")
		diags = append(diags, dd...)
		if ok {
			if s != OnUnhealthyIgnore && s != OnUnhealthyRestart {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid on_unhealthy",
					fmt.Sprintf("on_unhealthy must be %q or %q; %q is not.", OnUnhealthyIgnore, OnUnhealthyRestart, s)))
			} else {
				h.OnUnhealthy = s
			}
		}
	}
	if len(content.Blocks) == 0 {
		diags = append(diags, errorAt(block.DefRange, "Missing health check",
			"A health block needs one check block: http { url = ... }, tcp { address = ... }, exec { command = [...] } or log { match = ... }."))
		return h, diags
	}
	for i, b := range content.Blocks {
		if i > 0 {
			diags = append(diags, errorAt(b.DefRange, "More than one health check",
				fmt.Sprintf("A health block has exactly one check; the %s check at %s is already there.", content.Blocks[0].Type, posString(content.Blocks[0].DefRange))))
			continue
		}
		h.Check, h.CheckRange = b.Type, b.DefRange
		diags = append(diags, d.decodeCheck(h, b)...)
	}
	return h, diags
}

func (d *decoder) decodeCheck(h *Health, b *hcl.Block) hcl.Diagnostics {
	c, diags := b.Body.Content(checkSchemas[b.Type])
	switch b.Type {
	case "http":
		chk := &HTTPCheck{Status: DefaultHTTPStatus}
		if attr := c.Attributes["url"]; attr != nil {
			s, ok, dd := evalString(attr.Expr, d.ctx, "url")
			diags = append(diags, dd...)
			if ok {
				u, err := url.Parse(s)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					diags = append(diags, errorAt(attr.Expr.Range(), "Invalid URL",
						fmt.Sprintf("The http check needs an http:// or https:// URL with a host; %q is not.", s)))
				} else {
					chk.URL = s
				}
			}
		}
		if attr := c.Attributes["status"]; attr != nil {
			n, ok, dd := evalInt(attr.Expr, d.ctx, "status")
			diags = append(diags, dd...)
			if ok && (n < 100 || n > 599) {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid status", fmt.Sprintf("%d is not an HTTP status.", n)))
			} else if ok {
				chk.Status = n
			}
		}
		h.HTTP = chk
	case "tcp":
		chk := &TCPCheck{}
		if attr := c.Attributes["address"]; attr != nil {
			s, ok, dd := evalString(attr.Expr, d.ctx, "address")
			diags = append(diags, dd...)
			if ok {
				if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
					diags = append(diags, errorAt(attr.Expr.Range(), "Invalid address",
						fmt.Sprintf("The tcp check needs HOST:PORT; %q is not.", s)))
				} else {
					chk.Address = s
				}
			}
		}
		h.TCP = chk
	case "exec":
		chk := &ExecCheck{}
		if attr := c.Attributes["command"]; attr != nil {
			cmd, ok, dd := evalCommand(attr.Expr, d.ctx)
			hintInterpolatedVariables(dd, attr.Expr, d.src)
			diags = append(diags, dd...)
			if ok && len(cmd) == 0 {
				diags = append(diags, errorAt(attr.Expr.Range(), "Empty command", "The exec check needs a command to run."))
			} else if ok {
				chk.Command = cmd
			}
		}
		h.Exec = chk
	case "log":
		chk := &LogCheck{}
		if attr := c.Attributes["match"]; attr != nil {
			s, ok, dd := evalString(attr.Expr, d.ctx, "match")
			diags = append(diags, dd...)
			if ok {
				if _, err := regexp.Compile(s); err != nil {
					diags = append(diags, errorAt(attr.Expr.Range(), "Invalid regular expression",
						fmt.Sprintf("The log check's match does not compile: %v.", err)))
				} else {
					chk.Match = s
				}
			}
		}
		h.Log = chk
	}
	return diags
}
