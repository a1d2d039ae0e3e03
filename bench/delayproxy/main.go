// Command delayproxy forwards TCP connections to a server and delays every
// chunk of bytes by a fixed time in each direction, so that benchmarks on
// loopback see the round trip of a distant store (the kernel here has no
// netem). Bandwidth is not limited: chunks in flight overlap, as packets
// on a long link do.
//
//	delayproxy -to 127.0.0.1:9000 -delay 15ms
//
// It prints the address it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"time"
)

func main() {
	to := flag.String("to", "", "`host:port` of the server")
	listen := flag.String("listen", "127.0.0.1:0", "`address` to listen on")
	delay := flag.Duration("delay", 15*time.Millisecond, "one-way delay added to every chunk")
	flag.Parse()
	if *to == "" {
		fmt.Fprintln(os.Stderr, "delayproxy: -to is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("delayproxy: %v", err)
	}
	fmt.Println(ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("delayproxy: accept: %v", err)
		}
		go serve(c, *to, *delay)
	}
}

// serve connects c to the server and relays both ways with the delay.
func serve(c net.Conn, to string, delay time.Duration) {
	s, err := net.Dial("tcp", to)
	if err != nil {
		log.Printf("delayproxy: dial %s: %v", to, err)
		_ = c.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { relay(s, c, delay); done <- struct{}{} }()
	go func() { relay(c, s, delay); done <- struct{}{} }()
	<-done
	<-done
	_ = c.Close()
	_ = s.Close()
}

// chunk is bytes read at a time, due to be written delay later.
type chunk struct {
	b   []byte
	due time.Time
}

// relay copies src to dst, each chunk written delay after it was read. A
// reader and a writer run apart, so reading goes on while chunks wait.
func relay(dst, src net.Conn, delay time.Duration) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{b: buf[:n], due: time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		time.Sleep(time.Until(ch.due))
		if _, err := dst.Write(ch.b); err != nil {
			_ = src.Close() // the reader stops; drain what it queued
			for range q {
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_ = dst.Close()
	}
}
