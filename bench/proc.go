package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// statusKiB reads a "Key:   123 kB" line of /proc/<pid>/status, in bytes.
func statusKiB(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return kib << 10, err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

// clockTick is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100 on every Linux
// architecture Go runs on (the kernel fixes it for user space whatever HZ it was built with).
const clockTick = time.Second / 100

// processCPU is the user plus system CPU time of every thread of process pid so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces: fields are counted after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	// utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineBusy is the CPU time the whole machine spent outside idle so far, from the
// first line of /proc/stat: user, nice, system, irq and softirq (iowait is idle waiting;
// steal is time the hypervisor gave elsewhere).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: malformed %q", line)
	}
	var ticks int64
	for _, s := range []string{f[1], f[2], f[3], f[6], f[7]} {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// selfCPU is the CPU time of the bench process: its clients and its baselines.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssSampler polls the resident set of a process, because VmHWM alone says how high it
// went but not when. Besides the whole run's maximum it keeps the maximum of a window,
// which a measurement opens and closes.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done sync.WaitGroup

	mu        sync.Mutex
	max       int64
	windowMax int64
}

func startRSSSampler(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	s.done.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *rssSampler) sample() {
	rss, err := statusKiB(s.pid, "VmRSS")
	if err != nil {
		return // the process is gone; its last samples stand
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.max = max(s.max, rss)
	s.windowMax = max(s.windowMax, rss)
}

// openWindow starts a new window with a fresh sample.
func (s *rssSampler) openWindow() {
	s.mu.Lock()
	s.windowMax = 0
	s.mu.Unlock()
	s.sample()
}

// closeWindow takes a last sample and returns the window's maximum.
func (s *rssSampler) closeWindow() int64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.windowMax
}

// finish stops sampling and returns the largest resident set seen.
func (s *rssSampler) finish() int64 {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// cpuMark is a point in time with the CPU used so far by the server, by the bench and by
// the whole machine.
type cpuMark struct {
	wall                    time.Time
	server, client, machine time.Duration
}

func markCPU(serverPID int) cpuMark {
	m := cpuMark{wall: time.Now(), client: selfCPU()}
	m.machine, _ = machineBusy() // unreadable shows as no other load
	if serverPID > 0 {
		m.server, _ = processCPU(serverPID) // a vanished server shows as 0 in the figures
	}
	return m
}

// cpuUse is the average number of cores kept busy between two marks by the server, by
// the bench process, and by everything else: other processes on the machine (their load
// disturbs the figures) and kernel work not charged to a process, such as loopback
// networking in softirq.
type cpuUse struct {
	Elapsed               time.Duration
	Server, Client, Other float64
}

func (m cpuMark) since(start cpuMark) cpuUse {
	wall := m.wall.Sub(start.wall)
	if wall <= 0 {
		return cpuUse{}
	}
	server, client := m.server-start.server, m.client-start.client
	other := max(m.machine-start.machine-server-client, 0)
	return cpuUse{
		Elapsed: wall,
		Server:  float64(server) / float64(wall),
		Client:  float64(client) / float64(wall),
		Other:   float64(other) / float64(wall),
	}
}
