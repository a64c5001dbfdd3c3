package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Bounds of the release server: it runs on the operator's machine, on a
// LAN where anyone may connect.
const (
	// maxServeConns bounds the connections open at once; more wait to be
	// accepted.
	maxServeConns = 64
	// maxServePeers bounds the addresses bytes are counted for; the
	// bytes of others are counted together.
	maxServePeers = 1024
)

// releaseServer serves the binaries of a release and their signatures,
// and nothing else, over HTTP.
type releaseServer struct {
	files map[string]*os.File // by the name in the URL path, without its /
	srv   *http.Server
	ln    net.Listener
	done  chan struct{}
	err   error

	mu     sync.Mutex
	served map[netip.Addr]int64
	others int64 // bytes to addresses over maxServePeers
}

// startReleaseServer opens the files of rel and their .sig files, listens
// on addr and serves them until Stop. writeTimeout bounds one response.
func startReleaseServer(addr string, rel *release, writeTimeout time.Duration) (*releaseServer, error) {
	s := &releaseServer{files: map[string]*os.File{}, served: map[netip.Addr]int64{}, done: make(chan struct{})}
	for _, b := range rel.Binaries {
		for _, name := range []string{b.Name, b.Name + ".sig"} {
			f, err := os.Open(filepath.Join(filepath.Dir(b.Path), name))
			if err != nil {
				s.closeFiles()
				return nil, err
			}
			s.files[name] = f
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	s.ln = &limitListener{Listener: ln, sem: make(chan struct{}, maxServeConns)}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *releaseServer) Addr() net.Addr { return s.ln.Addr() }

// Stop ends the server: responses under way get until ctx ends, then
// their connections are closed.
func (s *releaseServer) Stop(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
	s.closeFiles()
	return s.err
}

func (s *releaseServer) closeFiles() {
	for _, f := range s.files {
		f.Close()
	}
}

func (s *releaseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/")
	f := s.files[name]
	if !ok || f == nil {
		http.NotFound(w, r)
		return
	}
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read the file", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	cw := &countingWriter{ResponseWriter: w}
	// A section of the file opened at the start: the bytes served are
	// those hashed and signed, whoever writes to the directory since.
	http.ServeContent(cw, r, name, fi.ModTime(), io.NewSectionReader(f, 0, fi.Size()))
	s.count(r.RemoteAddr, cw.n)
}

func (s *releaseServer) count(remote string, n int64) {
	ap, err := netip.ParseAddrPort(remote)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := ap.Addr().Unmap()
	if _, ok := s.served[a]; err != nil || !ok && len(s.served) >= maxServePeers {
		s.others += n
		return
	}
	s.served[a] += n
}

// Served returns the bytes served to each address, by address, and those
// to addresses beyond maxServePeers.
func (s *releaseServer) Served() (map[netip.Addr]int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[netip.Addr]int64, len(s.served))
	for a, n := range s.served {
		out[a] = n
	}
	return out, s.others
}

// writeServed writes a line of the bytes served per address, naming the
// device at each address where the broker says which it is.
func writeServed(w io.Writer, served map[netip.Addr]int64, others int64, names map[string]string) {
	addrs := make([]netip.Addr, 0, len(served))
	var total int64
	for a, n := range served {
		addrs = append(addrs, a)
		total += n
	}
	total += others
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	parts := make([]string, 0, len(addrs)+1)
	for _, a := range addrs {
		p := a.String() + " " + size(served[a])
		if name := names[a.String()]; name != "" {
			p = a.String() + " (" + name + ") " + size(served[a])
		}
		parts = append(parts, p)
	}
	if others > 0 {
		parts = append(parts, "others "+size(others))
	}
	if len(parts) == 0 {
		fmt.Fprintln(w, "served: nothing")
		return
	}
	fmt.Fprintf(w, "served %s: %s\n", size(total), strings.Join(parts, ", "))
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// limitListener accepts at most cap(sem) connections at once.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// releaseBase chooses the URL the devices fetch from: --url as given,
// else http:// and the address listened on when listen names one host;
// an unspecified address could be any of this machine's. Before the
// server listens (bound nil) it only checks that there will be one.
func releaseBase(urlFlag, listen string, bound net.Addr) (string, error) {
	if urlFlag != "" {
		u, err := url.Parse(urlFlag)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return "", fmt.Errorf("--url %q is not an http:// or https:// URL without query, fragment or user name: --url http://ADDRESS-DEVICES-REACH:PORT", urlFlag)
		}
		return strings.TrimRight(urlFlag, "/"), nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %v", listen, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return "", fmt.Errorf("--listen %s is any of this machine's addresses: say which one the devices reach with --url http://ADDRESS-DEVICES-REACH:%s (or listen on that address alone with --listen ADDRESS:%[2]s)", listen, port)
	}
	if bound == nil {
		return "", nil
	}
	ap, err := netip.ParseAddrPort(bound.String())
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", bound, err)
	}
	return "http://" + ap.String(), nil
}
