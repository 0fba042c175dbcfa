package badinput

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Requests net/http will not send: a Content-Length the body does not honour. They are
// written by hand on a TLS connection of their own, with the Authorization a request of
// the shared client would carry (env.authFor): the owner's Basic credentials by default.

const rawTimeout = time.Minute

func (e *env) dialTLS(t testing.TB, proto string) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", e.base.Host, &tls.Config{RootCAs: e.pool, NextProtos: []string{proto}})
	if err != nil {
		t.Fatalf("dial %s: %v", e.base.Host, err)
	}
	if got := conn.ConnectionState().NegotiatedProtocol; got != proto {
		conn.Close()
		t.Fatalf("negotiated %q, want %q", got, proto)
	}
	_ = conn.SetDeadline(time.Now().Add(rawTimeout))
	return conn
}

// sendHTTP1 writes rq as HTTP/1.1 with Content-Length rq.declared and rq.body after it
// (cutShort, hangUp).
func (e *env) sendHTTP1(t testing.TB, rq request) *reply {
	t.Helper()
	u := e.resolve(t, rq.target)
	conn := e.dialTLS(t, "http/1.1")
	defer conn.Close()

	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", rq.method, u.RequestURI(), u.Host, rq.declared)
	h := http.Header{}
	addHeaders(t, h, rq.header)
	if a := e.authFor(rq); a != "" {
		h.Set("Authorization", a)
	}
	if rq.framing == hangUp {
		h.Set("Expect", "100-continue")
	}
	if err := h.Write(&head); err != nil {
		t.Fatal(err)
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatalf("%s: writing headers: %v", rq, err)
	}
	br := bufio.NewReader(conn)

	if rq.framing == hangUp {
		// net/http answers 100 Continue when the handler first reads the body, so the
		// handler is running (and holds its upload session) once it arrives.
		resp, err := http.ReadResponse(br, &http.Request{Method: rq.method})
		if err != nil {
			t.Fatalf("%s: waiting for 100 Continue: %v", rq, err)
		}
		if resp.StatusCode != http.StatusContinue {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: answered %d %q before reading the body; want 100 Continue", rq, resp.StatusCode, body)
		}
		if _, err := conn.Write(rq.body); err != nil {
			t.Fatalf("%s: writing body: %v", rq, err)
		}
		return nil // the deferred Close hangs up
	}

	if _, err := conn.Write(rq.body); err != nil {
		t.Fatalf("%s: writing body: %v", rq, err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatalf("%s: close write: %v", rq, err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: rq.method})
	if err != nil {
		t.Fatalf("%s: no answer: %v", rq, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading answer: %v", rq, err)
	}
	return &reply{req: rq, Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// HTTP/2 frame types and flags (RFC 9113, section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// sendHTTP2 sends rq as the one stream of a new HTTP/2 connection: HEADERS with
// content-length rq.declared, then one DATA frame with rq.body and END_STREAM. It reads
// the answer's :status and body; other response headers are not decoded (Header is nil).
func (e *env) sendHTTP2(t testing.TB, rq request) *reply {
	t.Helper()
	u := e.resolve(t, rq.target)
	conn := e.dialTLS(t, "h2")
	defer conn.Close()
	if len(rq.body) > 16384 {
		t.Fatalf("h2EndStream sends one DATA frame of at most 16384 bytes")
	}

	var block []byte
	field := func(name, value string) {
		block = append(block, 0x00) // literal header field without indexing, new name
		block = hpackString(block, name)
		block = hpackString(block, value)
	}
	field(":method", rq.method)
	field(":scheme", "https")
	field(":authority", u.Host)
	field(":path", u.RequestURI())
	field("content-length", strconv.FormatInt(rq.declared, 10))
	for i := 0; i+1 < len(rq.header); i += 2 {
		if !strings.EqualFold(rq.header[i], "Authorization") {
			field(strings.ToLower(rq.header[i]), rq.header[i+1])
		}
	}
	if a := e.authFor(rq); a != "" {
		field("authorization", a)
	}

	w := bufio.NewWriter(conn)
	w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeFrame(w, frameSettings, 0, 0, nil)
	writeFrame(w, frameHeaders, flagEndHeaders, 1, block)
	writeFrame(w, frameData, flagEndStream, 1, rq.body)
	if err := w.Flush(); err != nil {
		t.Fatalf("%s: writing frames: %v", rq, err)
	}

	r := &reply{req: rq}
	br := bufio.NewReader(conn)
	for {
		typ, flags, stream, payload, err := readFrame(br)
		if err != nil {
			t.Fatalf("%s: reading frames: %v", rq, err)
		}
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			writeFrame(w, frameSettings, flagAck, 0, nil)
		case typ == framePing && flags&flagAck == 0:
			writeFrame(w, framePing, flagAck, 0, payload)
		case typ == frameGoAway:
			t.Fatalf("%s: GOAWAY %x", rq, payload)
		case stream != 1:
		case typ == frameRSTStream:
			t.Fatalf("%s: stream reset, error code %x, no answer", rq, payload)
		case typ == frameHeaders:
			payload, err = unpad(flags, payload)
			if err == nil && flags&flagPriority != 0 {
				if len(payload) < 5 {
					err = errors.New("short PRIORITY fields")
				} else {
					payload = payload[5:]
				}
			}
			if err == nil && r.Status == 0 {
				r.Status, err = hpackStatus(payload)
			}
			if err != nil {
				t.Fatalf("%s: HEADERS %x: %v", rq, payload, err)
			}
		case typ == frameContinuation:
		case typ == frameData:
			payload, err = unpad(flags, payload)
			if err != nil {
				t.Fatalf("%s: DATA: %v", rq, err)
			}
			r.Body = append(r.Body, payload...)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("%s: writing frames: %v", rq, err)
		}
		if stream == 1 && (typ == frameHeaders || typ == frameData) && flags&flagEndStream != 0 {
			return r
		}
	}
}

func writeFrame(w *bufio.Writer, typ, flags byte, stream uint32, payload []byte) {
	n := len(payload)
	w.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags})
	_ = binary.Write(w, binary.BigEndian, stream&0x7fffffff)
	w.Write(payload)
}

func readFrame(r io.Reader) (typ, flags byte, stream uint32, payload []byte, err error) {
	var h [9]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	typ, flags = h[3], h[4]
	stream = binary.BigEndian.Uint32(h[5:]) & 0x7fffffff
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	return
}

func unpad(flags byte, p []byte) ([]byte, error) {
	if flags&flagPadded == 0 {
		return p, nil
	}
	if len(p) == 0 || int(p[0]) >= len(p) {
		return nil, errors.New("bad padding")
	}
	return p[1 : len(p)-int(p[0])], nil
}

// hpackInt appends v as an HPACK integer with an n-bit prefix (RFC 7541, 5.1) whose other
// bits are first.
func hpackInt(b []byte, first byte, n uint, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(limit))
	for v -= limit; v >= 128; v >>= 7 {
		b = append(b, byte(v&0x7f|0x80))
	}
	return append(b, byte(v))
}

// hpackString appends s as a string literal without Huffman coding.
func hpackString(b []byte, s string) []byte {
	return append(hpackInt(b, 0, 7, uint64(len(s))), s...)
}

func readHpackInt(p []byte, n uint) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, nil, errors.New("truncated integer")
	}
	limit := uint64(1)<<n - 1
	v := uint64(p[0]) & limit
	p = p[1:]
	if v < limit {
		return v, p, nil
	}
	for shift := uint(0); len(p) > 0; shift += 7 {
		c := p[0]
		p = p[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, p, nil
		}
	}
	return 0, nil, errors.New("truncated integer")
}

// staticStatus is the :status part of the HPACK static table (RFC 7541, appendix A).
var staticStatus = map[uint64]int{8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}

// hpackStatus decodes the :status field, which a server sends first in a fresh
// connection's first header block: either an indexed static entry or a literal whose name
// is one of those entries.
func hpackStatus(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("empty header block")
	}
	var prefix uint
	switch b := p[0]; {
	case b&0x80 != 0: // indexed
		idx, _, err := readHpackInt(p, 7)
		if s, ok := staticStatus[idx]; ok && err == nil {
			return s, nil
		}
		return 0, fmt.Errorf("first field is index %d, not a :status", idx)
	case b&0xc0 == 0x40: // literal with incremental indexing
		prefix = 6
	case b&0xe0 == 0x20: // dynamic table size update
		return 0, errors.New("table size update before :status")
	default: // literal without indexing or never indexed
		prefix = 4
	}
	idx, rest, err := readHpackInt(p, prefix)
	if err != nil {
		return 0, err
	}
	if _, ok := staticStatus[idx]; !ok {
		return 0, fmt.Errorf("first field name index %d, not :status", idx)
	}
	if len(rest) == 0 {
		return 0, errors.New("truncated value")
	}
	huffman := rest[0]&0x80 != 0
	n, rest, err := readHpackInt(rest, 7)
	if err != nil || uint64(len(rest)) < n {
		return 0, errors.New("truncated value")
	}
	value := string(rest[:n])
	if huffman {
		if value, err = huffmanDigits(rest[:n]); err != nil {
			return 0, err
		}
	}
	return strconv.Atoi(value)
}

// huffmanDigits decodes a Huffman-coded string of decimal digits (RFC 7541, appendix B:
// '0'-'2' are the 5-bit codes 0-2, '3'-'9' the 6-bit codes 0x19-0x1f; padding is ones).
func huffmanDigits(p []byte) (string, error) {
	var out []byte
	bits := len(p) * 8
	peek := func(pos, n int) int {
		v := 0
		for i := pos; i < pos+n; i++ {
			v = v<<1 | int(p[i/8]>>(7-i%8)&1)
		}
		return v
	}
	pos := 0
	for {
		if bits-pos >= 5 && peek(pos, 5) <= 2 {
			out = append(out, byte('0'+peek(pos, 5)))
			pos += 5
			continue
		}
		if bits-pos >= 6 {
			if v := peek(pos, 6); v >= 0x19 && v <= 0x1f {
				out = append(out, byte('3'+v-0x19))
				pos += 6
				continue
			}
		}
		break
	}
	if rest := bits - pos; rest >= 8 || peek(pos, rest) != 1<<rest-1 {
		return "", fmt.Errorf("not a Huffman-coded number: %x", p)
	}
	return string(out), nil
}
