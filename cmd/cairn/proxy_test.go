package main

import (
	"io"
	"net"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// tcpProxy forwards connections to a target address; taking it down
// makes a location unreachable under an unchanged address.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

var (
	proxiesMu sync.Mutex
	proxies   = map[*testscript.TestScript]map[string]*tcpProxy{}
)

// cmdTCPProxy is a testscript command: "tcpproxy up NAME TARGET" starts (or
// restarts, on the same port) a proxy to TARGET and sets $NAME to its
// address; "tcpproxy down NAME" stops it and drops its connections.
func cmdTCPProxy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || (args[0] == "up") != (len(args) == 3) {
		ts.Fatalf("usage: tcpproxy up NAME TARGET | tcpproxy down NAME")
	}
	proxiesMu.Lock()
	if proxies[ts] == nil {
		proxies[ts] = map[string]*tcpProxy{}
		ts.Defer(func() {
			proxiesMu.Lock()
			for _, p := range proxies[ts] {
				p.down()
			}
			delete(proxies, ts)
			proxiesMu.Unlock()
		})
	}
	p := proxies[ts][args[1]]
	proxiesMu.Unlock()
	switch args[0] {
	case "up":
		addr := "127.0.0.1:0"
		if p != nil {
			addr = p.addr
		}
		ln, err := net.Listen("tcp", addr)
		ts.Check(err)
		if p == nil {
			p = &tcpProxy{addr: ln.Addr().String(), target: args[2]}
			proxiesMu.Lock()
			proxies[ts][args[1]] = p
			proxiesMu.Unlock()
		}
		p.up(ln)
		ts.Setenv(args[1], p.addr)
	case "down":
		if p == nil {
			ts.Fatalf("no proxy %s", args[1])
		}
		p.down()
	default:
		ts.Fatalf("usage: tcpproxy up NAME TARGET | tcpproxy down NAME")
	}
}

func (p *tcpProxy) up(ln net.Listener) {
	p.mu.Lock()
	p.ln, p.conns = ln, map[net.Conn]bool{}
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *tcpProxy) serve(c net.Conn) {
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[t] = true, true
	p.mu.Unlock()
	go func() { io.Copy(t, c); t.Close() }()
	io.Copy(c, t)
	c.Close()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}
