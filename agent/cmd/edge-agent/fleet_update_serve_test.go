package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUpdateReleaseBase(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, tc := range []struct {
		url, listen string
		bound       net.Addr
		want, err   string
	}{
		{"", "192.168.1.5:8999", tcp("192.168.1.5:8999"), "http://192.168.1.5:8999", ""},
		{"", "127.0.0.1:0", tcp("127.0.0.1:41234"), "http://127.0.0.1:41234", ""},
		{"", "[::1]:0", tcp("[::1]:41234"), "http://[::1]:41234", ""},
		{"", "192.168.1.5:8999", nil, "", ""},
		{"http://laptop.lan:8999/", ":8999", tcp("0.0.0.0:8999"), "http://laptop.lan:8999", ""},
		{"https://files.example/edge", "127.0.0.1:0", nil, "https://files.example/edge", ""},
		{"", ":8999", nil, "", "--listen :8999 is any of this machine's addresses: say which one the devices reach with --url http://ADDRESS-DEVICES-REACH:8999"},
		{"", "0.0.0.0:8999", nil, "", "--url http://ADDRESS-DEVICES-REACH:8999"},
		{"", "[::]:8999", nil, "", "--url http://ADDRESS-DEVICES-REACH:8999"},
		{"", "8999", nil, "", `--listen "8999": address 8999: missing port in address`},
		{"ftp://host/x", ":8999", nil, "", "is not an http:// or https:// URL"},
		{"http://host/x?y=1", ":8999", nil, "", "is not an http:// or https:// URL"},
		{"http://user:pw@host/", ":8999", nil, "", "is not an http:// or https:// URL"},
		{"host:8999", ":8999", nil, "", "is not an http:// or https:// URL"},
	} {
		got, err := releaseBase(tc.url, tc.listen, tc.bound)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("releaseBase(%q, %q): %q, %v; want an error saying %q", tc.url, tc.listen, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("releaseBase(%q, %q, %v) = %q, %v; want %q", tc.url, tc.listen, tc.bound, got, err, tc.want)
		}
	}
}

// The server gives the binaries of the release and their signatures, to
// GET and HEAD, and nothing else: not the other files of the directory,
// no listing, no other method. It counts the bytes per address.
func TestUpdateReleaseServer(t *testing.T) {
	dir := t.TempDir()
	bin := buildTiny(t, dir, "edge-agent-linux-amd64", amd64, xVersion("v1"), false, "")
	os.WriteFile(bin+".sig", []byte("signature\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("private\n"), 0o644)
	rel, err := readRelease(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startReleaseServer("127.0.0.1:0", rel, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Stop(context.Background())
		}
	})
	base := "http://" + srv.Addr().String()
	want, _ := os.ReadFile(bin)

	get := func(method, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("GET", "/edge-agent-linux-amd64")
	if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("GET the binary: %s, %d bytes of %d, %q", resp.Status, len(body), len(want), resp.Header.Get("Content-Type"))
	}
	if resp, body := get("GET", "/edge-agent-linux-amd64.sig"); resp.StatusCode != 200 || string(body) != "signature\n" {
		t.Errorf("GET the signature: %s %q", resp.Status, body)
	}
	if resp, body := get("HEAD", "/edge-agent-linux-amd64"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(want)) {
		t.Errorf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
	}
	if resp, body := get("GET", "/edge-agent-linux-amd64", "Range", "bytes=10-19"); resp.StatusCode != 206 || !bytes.Equal(body, want[10:20]) {
		t.Errorf("GET a range: %s %d bytes", resp.Status, len(body))
	}
	for _, path := range []string{"/", "/notes.txt", "/../notes.txt", "/%2e%2e/notes.txt", "//edge-agent-linux-amd64", "/edge-agent-linux-amd64/", "/EDGE-AGENT-LINUX-AMD64", "/edge-agent-linux-amd64.sig.tmp"} {
		if resp, body := get("GET", path); resp.StatusCode != 404 || bytes.Contains(body, []byte("private")) {
			t.Errorf("GET %s: %s %q", path, resp.Status, body)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		if resp, _ := get(m, "/edge-agent-linux-amd64"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %s, Allow %q", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
	stopped = true
	if err := srv.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	served, others := srv.Served()
	if n := served[netip.MustParseAddr("127.0.0.1")]; n != int64(len(want))+int64(len("signature\n"))+10 || others != 0 || len(served) != 1 {
		t.Errorf("served %v and %d to others; want %d to 127.0.0.1", served, others, len(want)+len("signature\n")+10)
	}
	var out bytes.Buffer
	writeServed(&out, served, others, map[string]string{"127.0.0.1": "pi-1"})
	if want := "served " + size(int64(len(want))+20) + ": 127.0.0.1 (pi-1) " + size(int64(len(want))+20) + "\n"; out.String() != want {
		t.Errorf("summary %q, want %q", out.String(), want)
	}
	if _, err := http.Get(base + "/edge-agent-linux-amd64"); err == nil {
		t.Error("the server still answers after Stop")
	}
}
