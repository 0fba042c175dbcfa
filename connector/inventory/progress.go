package inventory

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Progress counts a run as it goes. A nil *Progress counts nothing; every method may be
// called from any goroutine.
type Progress struct {
	registries, registriesDone     atomic.Int64
	repositories, repositoriesDone atomic.Int64
	manifests, tags, errors        atomic.Int64
	requests                       atomic.Int64
}

// ProgressSnapshot is the counts at one moment.
type ProgressSnapshot struct {
	Registries, RegistriesDone     int64
	Repositories, RepositoriesDone int64 // Repositories grows as the catalogs are paged
	Manifests, Tags, Errors        int64
	Requests                       int64
}

// Snapshot reads the counts.
func (p *Progress) Snapshot() ProgressSnapshot {
	if p == nil {
		return ProgressSnapshot{}
	}
	return ProgressSnapshot{Registries: p.registries.Load(), RegistriesDone: p.registriesDone.Load(),
		Repositories: p.repositories.Load(), RepositoriesDone: p.repositoriesDone.Load(),
		Manifests: p.manifests.Load(), Tags: p.tags.Load(), Errors: p.errors.Load(), Requests: p.requests.Load()}
}

func (p *Progress) addRegistries(n int) {
	if p != nil {
		p.registries.Add(int64(n))
	}
}

func (p *Progress) registryDone() {
	if p != nil {
		p.registriesDone.Add(1)
	}
}

func (p *Progress) addRepositories(n int) {
	if p != nil {
		p.repositories.Add(int64(n))
	}
}

func (p *Progress) repositoryDone() {
	if p != nil {
		p.repositoriesDone.Add(1)
	}
}

func (p *Progress) request() {
	if p != nil {
		p.requests.Add(1)
	}
}

func (p *Progress) error() {
	if p != nil {
		p.errors.Add(1)
	}
}

func (p *Progress) add(manifests, tags, errors int) {
	if p != nil {
		p.manifests.Add(int64(manifests))
		p.tags.Add(int64(tags))
		p.errors.Add(int64(errors))
	}
}

// Bar draws p on one terminal line of w (standard error), redrawn every interval until
// Stop, which draws the last state and ends the line.
type Bar struct {
	p     *Progress
	w     io.Writer
	start time.Time
	stop  chan struct{}
	done  sync.WaitGroup
	width int // of the last line drawn, to blank what a shorter one leaves
}

// StartBar starts drawing p on w.
func StartBar(p *Progress, w io.Writer, interval time.Duration) *Bar {
	b := &Bar{p: p, w: w, start: time.Now(), stop: make(chan struct{})}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				b.draw()
				fmt.Fprintln(b.w)
				return
			case <-t.C:
				b.draw()
			}
		}
	}()
	return b
}

// Stop draws the final state and stops.
func (b *Bar) Stop() {
	close(b.stop)
	b.done.Wait()
}

func (b *Bar) draw() {
	line := FormatProgress(b.p.Snapshot(), time.Since(b.start))
	pad := max(b.width-len(line), 0)
	b.width = len(line)
	fmt.Fprintf(b.w, "\r%s%*s", line, pad, "")
}

// FormatProgress is one line of progress: a bar of the repositories done, then counts.
func FormatProgress(s ProgressSnapshot, elapsed time.Duration) string {
	const width = 20
	filled := 0
	if s.Repositories > 0 {
		filled = int(width * s.RepositoriesDone / s.Repositories)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	return fmt.Sprintf("[%s] registries %d/%d  repositories %d/%d  manifests %d  tags %d  requests %d  errors %d  %s",
		bar, s.RegistriesDone, s.Registries, s.RepositoriesDone, s.Repositories, s.Manifests, s.Tags,
		s.Requests, s.Errors, elapsed.Round(time.Second))
}
