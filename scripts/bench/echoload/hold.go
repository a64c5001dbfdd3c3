package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"edge-agent/scripts/bench/loadgen"
)

type holdReport struct {
	Target        string  `json:"target"`
	Conns         int     `json:"conns"`
	ConnsOpen     int     `json:"conns_open"`
	Failed        int     `json:"failed"`
	SecondsToOpen float64 `json:"seconds_to_open"`
	FirstError    string  `json:"first_error,omitempty"`
}

type holdEndReport struct {
	ConnsAlive  int     `json:"conns_alive"`
	ConnsLost   int     `json:"conns_lost"`
	HeldSeconds float64 `json:"held_seconds"`
	FirstError  string  `json:"first_error,omitempty"`
}

func runHold(o options) {
	// Stdin is watched from the start so that a caller which gives up early
	// (closes the pipe) is noticed even while dialing is still under way.
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)

	t0 := time.Now()
	// Keep-alive off: the connections must stay truly idle while the
	// server's memory is sampled.
	conns, errs := dialAll(o, o.conns, -1, true)
	open := 0
	for _, c := range conns {
		if c != nil {
			open++
		}
	}
	printJSON(holdReport{
		Target:        o.addr,
		Conns:         o.conns,
		ConnsOpen:     open,
		Failed:        len(errs),
		SecondsToOpen: loadgen.Round(time.Since(t0).Seconds(), 3),
		FirstError:    firstError(errs),
	})

	held := time.Now()
	var limit <-chan time.Time
	if o.hold > 0 {
		limit = time.After(o.hold)
	}
	select {
	case <-stdinClosed:
	case <-limit:
	case <-sig:
	}
	heldFor := time.Since(held)

	if o.verifyAfter {
		rep := holdEndReport{HeldSeconds: loadgen.Round(heldFor.Seconds(), 3)}
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			next atomic.Int64
		)
		for w := 0; w < min(o.dialConc, len(conns)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(conns) {
						return
					}
					if conns[i] == nil {
						continue
					}
					err := exchange(conns[i], "held-"+strconv.Itoa(i), o.timeout)
					mu.Lock()
					if err == nil {
						rep.ConnsAlive++
					} else {
						rep.ConnsLost++
						if rep.FirstError == "" {
							rep.FirstError = err.Error()
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		printJSON(rep)
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// ---------------------------------------------------------------------------
// probe and freeport modes

func runProbe(o options) {
	deadline := time.Now().Add(o.wait)
	var last error
	for {
		c, err := net.DialTimeout("tcp", o.addr, time.Second)
		if err == nil {
			err = exchange(c, "probe", min(o.timeout, time.Second))
			c.Close()
			if err == nil {
				return
			}
		}
		last = err
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "echoload: %s not serving after %v: %v\n", o.addr, o.wait, last)
			os.Exit(1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runFreePort prints ports that are free for both TCP and UDP on 127.0.0.1,
// since the agent serves echo on both protocols at the same port. All ports
// stay bound until printing so they are distinct.
func runFreePort(o options) {
	ports := make([]string, 0, o.n)
	for attempt := 0; len(ports) < o.n; attempt++ {
		if attempt > 100*o.n {
			fatalf("could not find %d ports free for both TCP and UDP", o.n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("finding a free port: %v", err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		u, err := net.ListenPacket("udp", "127.0.0.1:"+port)
		if err != nil {
			continue
		}
		defer u.Close()
		ports = append(ports, port)
	}
	fmt.Println(strings.Join(ports, " "))
}
