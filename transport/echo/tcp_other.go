//go:build !linux

package echo

import (
	"context"
	"net"
)

func (s *Server) serveTCP(ctx context.Context, ln net.Listener) error {
	return s.serveConns(ctx, ln)
}

func isTemporaryAccept(error) bool { return false }
