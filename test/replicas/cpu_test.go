package replicas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the CPU times in /proc/<pid>/stat.
const clockTick = time.Second / 100

// cpuGroups names the processes whose CPU a benchmark reports: each replica by pid, and
// by command name PostgreSQL (every backend), Azurite (node) and this process, the load
// generator.
type cpuGroups struct {
	replicas map[int]string // pid → "replica N"
}

func (c *cluster) cpuGroups() cpuGroups {
	g := cpuGroups{replicas: map[int]string{}}
	for i, r := range c.replicas {
		b, err := os.ReadFile(filepath.Join(r.DataDir, "run", "serve.json"))
		if err != nil {
			continue // stopped
		}
		var info struct {
			PID int `json:"pid"`
		}
		if json.Unmarshal(b, &info) == nil {
			g.replicas[info.PID] = fmt.Sprintf("replica%d", i)
		}
	}
	return g
}

// group names the group of a process, "" for one not reported.
func (g cpuGroups) group(pid int, comm string) string {
	switch {
	case g.replicas[pid] != "":
		return g.replicas[pid]
	case pid == os.Getpid():
		return "client"
	case comm == "postgres":
		return "postgres"
	case comm == "node":
		return "azurite"
	}
	return ""
}

// sample is the CPU time each group has used so far.
func (g cpuGroups) sample() map[string]time.Duration {
	out := map[string]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		name := g.group(pid, string(b[open+1:end]))
		if name == "" {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] += time.Duration(u+s) * clockTick
	}
	return out
}

// cpuShare is the CPU each group used between two samples, as a percentage of one core
// over elapsed (the machine's cores give the ceiling: 200% on two).
func cpuShare(before, after map[string]time.Duration, elapsed time.Duration) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		out[k] = float64(v-before[k]) / float64(elapsed) * 100
	}
	return out
}

func formatShare(share map[string]float64) string {
	keys := make([]string, 0, len(share))
	total := 0.0
	for k, v := range share {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, share[k]))
	}
	parts = append(parts, fmt.Sprintf("total %.0f%% of %d cores", total, numCPU()))
	return strings.Join(parts, ", ")
}
