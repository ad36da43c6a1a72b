// Package httptimeout makes HTTP clients that never wait forever. Each phase
// of a request is bounded: opening the connection (TCP connect and TLS
// handshake), waiting for the response headers, and every wait for more
// bytes of the response body. A server that accepts the connection and says
// nothing, or sends the headers and then stalls, turns into a *[TimeoutError]
// that names the host, the phase and the bound, instead of a hang.
//
// The idle bound applies to each wait, not to the whole transfer: a large
// download that keeps making progress runs as long as it needs.
package httptimeout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Default bounds, used for the zero fields of [Timeouts].
const (
	DefaultConnect = 30 * time.Second
	DefaultHeader  = 60 * time.Second
	DefaultIdle    = 60 * time.Second
)

// Timeouts bounds the phases of an HTTP request. A zero field takes its
// default (DefaultConnect, DefaultHeader, DefaultIdle).
type Timeouts struct {
	// Connect bounds opening a connection: the TCP connect and the TLS
	// handshake, each.
	Connect time.Duration
	// Header bounds the time from sending a request (connecting included)
	// to receiving the response headers.
	Header time.Duration
	// Idle bounds each wait for more bytes of the response body.
	Idle time.Duration
}

// withDefaults fills the zero fields.
func (t Timeouts) withDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = DefaultConnect
	}
	if t.Header <= 0 {
		t.Header = DefaultHeader
	}
	if t.Idle <= 0 {
		t.Idle = DefaultIdle
	}
	return t
}

// TimeoutError reports a phase of an HTTP request that ran past its bound.
type TimeoutError struct {
	// Host is the server (host:port, or the URL's host).
	Host string
	// Phase says what did not happen in time: "connecting", "response
	// headers" or "response body".
	Phase string
	// After is the bound that was exceeded.
	After time.Duration
}

// Error implements error.
func (e *TimeoutError) Error() string {
	switch e.Phase {
	case PhaseConnect:
		return fmt.Sprintf("no connection to %s within %v (connect timeout)", e.Host, e.After)
	case PhaseHeader:
		return fmt.Sprintf("%s sent no response headers within %v (the server accepted the request but does not answer)", e.Host, e.After)
	default:
		return fmt.Sprintf("%s sent no data for %v (the transfer stalled)", e.Host, e.After)
	}
}

// Timeout reports true, as net.Error timeouts do.
func (e *TimeoutError) Timeout() bool { return true }

// The phases of a [TimeoutError].
const (
	PhaseConnect = "connecting"
	PhaseHeader  = "response headers"
	PhaseBody    = "response body"
)

// Client returns an HTTP client (proxy settings from the environment, as
// http.DefaultClient) whose requests fail with a *[TimeoutError] when a
// phase runs past its bound in t.
func Client(t Timeouts) *http.Client {
	t = t.withDefaults()
	base := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		var ne net.Error
		if err != nil && ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			return nil, &TimeoutError{Host: addr, Phase: PhaseConnect, After: t.Connect}
		}
		return c, err
	}
	base.TLSHandshakeTimeout = t.Connect
	return &http.Client{Transport: &transport{base: base, t: t}}
}

// Bound returns c with its requests bounded: c itself when it comes from
// [Client] (or Bound), otherwise a copy whose transport waits at most t's
// Header bound (connecting included) for the response headers and t's Idle
// bound for each piece of the body. A nil c stands for [Client](t).
func Bound(c *http.Client, t Timeouts) *http.Client {
	if c == nil {
		return Client(t)
	}
	if _, ok := c.Transport.(*transport); ok {
		return c
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	bounded := *c
	bounded.Transport = &transport{base: rt, t: t.withDefaults()}
	return &bounded
}

// transport bounds the header and body phases of base's round trips.
type transport struct {
	base http.RoundTripper
	t    Timeouts
}

// RoundTrip implements http.RoundTripper.
func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	host := req.URL.Host
	timer := time.AfterFunc(tr.t.Header, func() {
		cancel(&TimeoutError{Host: host, Phase: PhaseHeader, After: tr.t.Header})
	})
	resp, err := tr.base.RoundTrip(req.WithContext(ctx))
	fired := !timer.Stop()
	if err != nil {
		if te := timeoutCause(ctx); te != nil {
			err = te
		}
		cancel(nil)
		return nil, err
	}
	if fired {
		resp.Body.Close()
		cancel(nil)
		return nil, timeoutCause(ctx)
	}
	b := &body{rc: resp.Body, ctx: ctx, cancel: cancel, idle: tr.t.Idle}
	b.timer = time.AfterFunc(tr.t.Idle, func() {
		cancel(&TimeoutError{Host: host, Phase: PhaseBody, After: tr.t.Idle})
	})
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// timeoutCause returns the *TimeoutError that cancelled ctx, or nil.
func timeoutCause(ctx context.Context) error {
	var te *TimeoutError
	if errors.As(context.Cause(ctx), &te) {
		return te
	}
	return nil
}

// body cancels its request when a Read waits longer than idle.
type body struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   time.Duration
	timer  *time.Timer
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF {
		if te := timeoutCause(b.ctx); te != nil {
			return n, te
		}
	}
	return n, err
}

// Close implements io.Closer.
func (b *body) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
