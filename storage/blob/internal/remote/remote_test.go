package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"
)

func TestPiecesUpload(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	tests := []struct {
		name   string
		prefix string
		n      int // bytes of body
		want   []int
	}{
		{"empty", "", 0, nil},
		{"prefix only", "abc", 0, []int{3}},
		{"shorter than a piece", "", 7, []int{7}},
		{"exactly one piece", "", 64, []int{64}},
		{"several", "ab", 200, []int{64, 64, 64, 10}},
		{"exact multiple", "", 128, []int{64, 64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPieces(64, 3)
			var mu sync.Mutex
			got := map[int][]byte{}
			lasts := map[int]bool{}
			h := sha256.New()
			n, err := p.Upload(t.Context(), iotest.HalfReader(bytes.NewReader(body[:tc.n])), []byte(tc.prefix), h,
				func(_ context.Context, i int, data []byte, last bool) error {
					mu.Lock()
					defer mu.Unlock()
					got[i], lasts[i] = bytes.Clone(data), last
					return nil
				})
			if err != nil || n != int64(tc.n) {
				t.Fatalf("Upload = %d, %v, want %d", n, err, tc.n)
			}
			var joined []byte
			for i, size := range tc.want {
				if len(got[i]) != size || lasts[i] != (i == len(tc.want)-1) {
					t.Errorf("piece %d: %d bytes, last %v; want %d bytes, last %v", i, len(got[i]), lasts[i], size, i == len(tc.want)-1)
				}
				joined = append(joined, got[i]...)
			}
			if len(got) != len(tc.want) || !bytes.Equal(joined, append([]byte(tc.prefix), body[:tc.n]...)) {
				t.Errorf("%d pieces joined to %q, want %d of prefix+body", len(got), joined, len(tc.want))
			}
			if want := sha256.Sum256(body[:tc.n]); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Error("hash covers more or less than the body (the prefix is hashed already)")
			}
		})
	}
}

func TestPiecesUploadErrors(t *testing.T) {
	boom := errors.New("boom")
	p := NewPieces(16, 2)
	ok := func(context.Context, int, []byte, bool) error { return nil }
	r := io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(boom))
	if n, err := p.Upload(t.Context(), r, nil, nil, ok); !errors.Is(err, boom) || n != 0 {
		t.Errorf("failing body: Upload = %d, %v, want 0, boom", n, err)
	}
	failThird := func(ctx context.Context, i int, _ []byte, _ bool) error {
		if i == 2 {
			return boom
		}
		return nil
	}
	if n, err := p.Upload(t.Context(), bytes.NewReader(make([]byte, 1000)), nil, nil, failThird); !errors.Is(err, boom) || n != 0 {
		t.Errorf("failing put: Upload = %d, %v, want 0, boom", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Upload(ctx, bytes.NewReader(make([]byte, 10)), nil, nil, ok); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: Upload = %v, want context.Canceled", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "5MiB": 5 << 20, "64KiB": 64 << 10, "2GiB": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "MiB", "1.5MiB", "8MB", "99999999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
