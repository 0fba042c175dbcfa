package sessions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

func TestCheckDigest(t *testing.T) {
	for _, tc := range []struct {
		d           digest.Digest
		ok, unsuppd bool
	}{
		{digest.FromString("a"), true, false},
		{digest.SHA512.FromString("a"), true, false},
		{digest.SHA384.FromString("a"), false, true},
		{"sha256:abc", false, false},
		{"md5:" + digest.Digest(strings.Repeat("0", 32)), false, true},
		{"", false, false},
	} {
		err := CheckDigest(tc.d)
		if (err == nil) != tc.ok || errors.Is(err, blob.ErrUnsupportedDigest) != tc.unsuppd {
			t.Errorf("CheckDigest(%q) = %v; want ok %v, unsupported %v", tc.d, err, tc.ok, tc.unsuppd)
		}
	}
}

func TestIDs(t *testing.T) {
	id := NewID()
	if !ValidID(id) || NewID() == id {
		t.Errorf("NewID %q: valid %v, or repeated", id, ValidID(id))
	}
	for _, bad := range []string{"", id[:31], strings.ToUpper(id), "../" + id[3:], id + "0"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

// TestSHA256State: a hash resumed from its marshalled state ends where the uninterrupted
// one does; a corrupt state is refused.
func TestSHA256State(t *testing.T) {
	h, err := RestoreSHA256(NewSHA256State())
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("hello, "))
	st, err := MarshalHash(h)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := RestoreSHA256(st)
	if err != nil {
		t.Fatal(err)
	}
	resumed.Write([]byte("world"))
	if want := sha256.Sum256([]byte("hello, world")); !bytes.Equal(resumed.Sum(nil), want[:]) {
		t.Error("resumed hash differs")
	}
	if _, err := RestoreSHA256([]byte("garbage")); err == nil {
		t.Error("RestoreSHA256 accepted a corrupt state")
	}
}

func TestFillAndCtxReader(t *testing.T) {
	buf := make([]byte, 10)
	n, err := Fill(iotest.OneByteReader(strings.NewReader("0123456789abc")), buf)
	if n != 10 || err != nil || string(buf) != "0123456789" {
		t.Errorf("Fill = %d, %v, %q", n, err, buf[:n])
	}
	n, err = Fill(strings.NewReader("xyz"), buf)
	if n != 3 || err != io.EOF {
		t.Errorf("Fill at the end = %d, %v; want 3, EOF", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (CtxReader{Ctx: ctx, R: strings.NewReader("x")}).Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("CtxReader after cancel: %v", err)
	}
}
