// Command textbook-echo is the baseline for scripts/bench-echo.sh: the
// goroutine-per-connection echo server as most Go tutorials write it, with
// the same reply rule as the agent (ASCII a-z upper-cased, other bytes
// unchanged). It is deliberately unoptimised; it shows what the agent is
// worth compared with the obvious Go program.
package main

import (
	"flag"
	"log"
	"net"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7008", "TCP listen address")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go handle(conn)
	}
}

func handle(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 1024)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		for i, c := range buf[:n] {
			if 'a' <= c && c <= 'z' {
				buf[i] = c - ('a' - 'A')
			}
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
	}
}
