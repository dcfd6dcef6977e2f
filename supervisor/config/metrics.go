package config

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DefaultMetricsAddress is the address of the example in the
// documentation: Prometheus's port range, loopback. A metrics block must
// name its address.
const DefaultMetricsAddress = "127.0.0.1:9464"

// Metrics is the top-level metrics block: prox serves /metrics, in
// Prometheus's text format, on a TCP listener of its own as well as on
// the control socket. Without the block there is no listener.
type Metrics struct {
	// Address is HOST:PORT to listen on; its host is a loopback address
	// (127.0.0.0/8, ::1, localhost) unless AllowRemote.
	Address string
	// AllowRemote allows an address other hosts can reach.
	AllowRemote bool
	// AddressRange is where address is written, for diagnostics.
	AddressRange hcl.Range
	// DeclRange is the block's header.
	DeclRange hcl.Range
}

var metricsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "address", Required: true}, {Name: "allow_remote"}},
}

// decodeMetrics decodes a metrics block.
func (d *decoder) decodeMetrics(block *hcl.Block) (*Metrics, hcl.Diagnostics) {
	m := &Metrics{DeclRange: block.DefRange}
	content, diags := block.Body.Content(metricsSchema)
	if attr := content.Attributes["allow_remote"]; attr != nil {
		v, ok, dd := evalValue(attr.Expr, d.ctx, cty.Bool, "allow_remote")
		diags = append(diags, dd...)
		if ok {
			m.AllowRemote = v.True()
		}
	}
	if attr := content.Attributes["address"]; attr != nil {
		m.AddressRange = attr.Expr.Range()
		s, ok, dd := evalString(attr.Expr, d.ctx, "address")
		diags = append(diags, dd...)
		if ok {
			if detail := checkMetricsAddress(s, m.AllowRemote); detail != "" {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid metrics address", detail))
			} else {
				m.Address = s
			}
		}
	}
	return m, diags
}

// checkMetricsAddress says what is wrong with a metrics address, or "".
func checkMetricsAddress(addr string, allowRemote bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "The address must be HOST:PORT, e.g. \"" + DefaultMetricsAddress + "\": " + err.Error() + "."
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "The port " + strconv.Quote(port) + " is not a number from 0 to 65535."
	}
	if allowRemote || isLoopback(host) {
		return ""
	}
	what := strconv.Quote(host) + " is not a loopback address"
	if host == "" {
		what = "An empty host listens on every interface"
	}
	return what + ": the metrics listener is loopback only (127.0.0.1, ::1, localhost) unless allow_remote = true, since /metrics names the processes and has no authentication."
}

// isLoopback reports whether host is a loopback IP address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
