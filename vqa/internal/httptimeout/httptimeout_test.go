package httptimeout

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// short are the bounds the tests use: well above scheduling noise, far
// below the defaults.
var short = Timeouts{Connect: 200 * time.Millisecond, Header: 200 * time.Millisecond, Idle: 200 * time.Millisecond}

// stalledServer listens on 127.0.0.1, accepts connections, reads the
// request, writes reply (possibly nothing) and then holds the connection
// open without a word until the test ends. It returns the base URL.
func stalledServer(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf) // the request
				io.WriteString(c, reply)
				<-done
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// within fails the test when fn takes longer than limit, and returns its
// error.
func within(t *testing.T, limit time.Duration, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(limit):
		t.Fatalf("still waiting after %v: the timeout did not fire", limit)
		return nil
	}
}

func wantTimeout(t *testing.T, err error, phase string) {
	t.Helper()
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != phase {
		t.Fatalf("error %v (%T), want a *TimeoutError in phase %q", err, err, phase)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "200ms") {
		t.Errorf("error %q does not name the host and the bound", err)
	}
}

// TestAcceptThenSilence: the server accepts the connection and never
// answers; the request fails after the header bound.
func TestAcceptThenSilence(t *testing.T) {
	url := stalledServer(t, "")
	err := within(t, 5*time.Second, func() error {
		resp, err := Client(short).Get(url + "/x")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	wantTimeout(t, err, PhaseHeader)
}

// TestHeadersThenStall: the server sends the headers and a few bytes, then
// nothing; reading the body fails after the idle bound.
func TestHeadersThenStall(t *testing.T) {
	url := stalledServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nsome bytes")
	resp, err := Client(short).Get(url + "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = within(t, 5*time.Second, func() error {
		_, err := io.ReadAll(resp.Body)
		return err
	})
	wantTimeout(t, err, PhaseBody)
}

// TestSlowButSteady: a body that arrives in small pieces, each within the
// idle bound, is read to the end even though the whole transfer takes
// longer than every bound.
func TestSlowButSteady(t *testing.T) {
	const pieces = 12
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(pieces))
		for range pieces {
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}))
	start := time.Now()
	resp, err := Client(short).Get("http://" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || len(b) != pieces {
		t.Fatalf("read %d bytes, %v; want %d bytes", len(b), err, pieces)
	}
	if took := time.Since(start); took < short.Idle {
		t.Fatalf("the transfer took %v, shorter than the idle bound: the test proves nothing", took)
	}
}

// TestConnectTimeout: a listener whose accept queue is full drops the
// SYNs of new connections, so connecting hangs; it fails after the
// connect bound.
func TestConnectTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("raw socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (never accepted) until a connect hangs.
	full := false
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			full = true
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if !full {
		t.Skip("this kernel accepts connections beyond the listen backlog: cannot make connecting hang")
	}
	err = within(t, 5*time.Second, func() error {
		resp, err := Client(Timeouts{Connect: short.Connect, Header: 10 * short.Connect}).Get("http://" + addr + "/x")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	wantTimeout(t, err, PhaseConnect)
}

func TestDefaults(t *testing.T) {
	got := Timeouts{Idle: time.Second}.withDefaults()
	if got != (Timeouts{Connect: DefaultConnect, Header: DefaultHeader, Idle: time.Second}) {
		t.Errorf("withDefaults = %+v", got)
	}
}

// TestBoundWrapsAnyClient: a plain client (no timeouts of its own) is
// bounded; a bounded one is returned as is.
func TestBoundWrapsAnyClient(t *testing.T) {
	url := stalledServer(t, "")
	c := Bound(&http.Client{}, short)
	err := within(t, 5*time.Second, func() error {
		resp, err := c.Get(url + "/x")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	wantTimeout(t, err, PhaseHeader)
	if again := Bound(c, Timeouts{}); again != c {
		t.Error("Bound wrapped an already bounded client again")
	}
}
