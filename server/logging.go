package server

import (
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"

	"github.com/cerulean-registry/cerulean/observe"
)

// NewLogger returns a logger writing to w in format ("auto": text when w is a terminal,
// JSON otherwise) at level, adding the request id to records logged with a request context.
// format and level are assumed valid (Config.Validate).
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated; a bad level stays at info
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(observe.Handler(h))
}
