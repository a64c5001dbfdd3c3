package texttime

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	s := &Server{Location: berlinNov14.Location(), Now: fixedClock}
	addr := startUDP(t, s).String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		format, want string
		refused      bool
	}{
		{"", "2023-11-14-23:13:20", false},
		{"%A %H:%M", "Tuesday 23:13", false},
		{"\xff", errUTF8, true},
		{"%1000Y", errTooLong + "88 bytes", true},
		{"error: %H", "error: 23", false}, // the format asked for it
	} {
		got, err := Query(ctx, addr, tc.format)
		if got != tc.want || errors.Is(err, ErrRefused) != tc.refused || (err != nil) != tc.refused {
			t.Errorf("%q: %q, %v; want %q (refused %v)", tc.format, got, err, tc.want, tc.refused)
		}
		if tc.refused && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: error %v does not carry the server's words", tc.format, err)
		}
	}
}

func TestQueryGivesUpAtTheDeadline(t *testing.T) {
	// A bound socket that reads nothing and so never answers.
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Query(ctx, silent.LocalAddr().String(), "%H"); err == nil {
		t.Fatal("a reply from a socket that does not answer")
	}
}
