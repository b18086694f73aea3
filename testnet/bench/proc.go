package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the bench started (a leaf process or a flat-DHT
// server process). It dies with the bench (Pdeathsig) and is stopped with
// SIGTERM, then SIGKILL.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File

	mu    sync.Mutex
	lines []string // stdout lines
}

// startChild starts cmd, logging its stderr to logPath and keeping its
// stdout lines (the daemons print their listen addresses there).
func startChild(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			if len(c.lines) < 64 {
				c.lines = append(c.lines, sc.Text())
			}
			c.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after 5 s, SIGKILL; it waits for the exit.
func (c *child) stop() {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	c.log.Close()
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux ABI Go runs on).
const clockTick = 100

// cpuTime is utime+stime of pid from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// rssBytes is VmRSS of pid from /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status VmRSS %q: %w", pid, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// schedTime is the CPU time of pid's threads in ns from
// /proc/PID/task/*/schedstat (first field: time spent on a CPU). Unlike
// utime+stime (10 ms ticks) it resolves an idle process's few ms per
// second over a short window; threads that exited are not counted.
func schedTime(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/task/%s/schedstat: %w", pid, t.Name(), err)
		}
		total += ns
	}
	return time.Duration(total), nil
}

// usage is what idleUsage measured.
type usage struct {
	statMsPerS  float64 // utime+stime from /proc/PID/stat, ms per s
	schedMsPerS float64 // from /proc/PID/task/*/schedstat, ms per s
	rss         int64   // VmRSS at the end, bytes
}

// idleUsage measures pid over window: CPU in ms per second of wall time
// (two ways) and RSS at the end.
func idleUsage(ctx context.Context, pid int, window time.Duration) (usage, error) {
	c0, err1 := cpuTime(pid)
	s0, err2 := schedTime(pid)
	if err := errors.Join(err1, err2); err != nil {
		return usage{}, err
	}
	t0 := time.Now()
	select {
	case <-time.After(window): // the measurement window itself
	case <-ctx.Done():
		return usage{}, ctx.Err()
	}
	c1, err1 := cpuTime(pid)
	s1, err2 := schedTime(pid)
	if err := errors.Join(err1, err2); err != nil {
		return usage{}, err
	}
	wall := time.Since(t0).Seconds()
	rss, err := rssBytes(pid)
	if err != nil {
		return usage{}, err
	}
	return usage{statMsPerS: ms(c1-c0) / wall, schedMsPerS: ms(s1-s0) / wall, rss: rss}, nil
}

// loadAvg1 is the 1-minute load average.
func loadAvg1() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("/proc/loadavg is empty")
	}
	return strconv.ParseFloat(f[0], 64)
}

// loadSampler samples the 1-minute load average every interval until stop.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	stopc   chan struct{}
	done    chan struct{}
}

func startLoadSampler(every time.Duration) *loadSampler {
	s := &loadSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	s.take()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.take()
			}
		}
	}()
	return s
}

func (s *loadSampler) take() {
	if v, err := loadAvg1(); err == nil {
		s.mu.Lock()
		s.samples = append(s.samples, v)
		s.mu.Unlock()
	}
}

// stop takes a last sample and returns them all.
func (s *loadSampler) stop() []float64 {
	close(s.stopc)
	<-s.done
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float64(nil), s.samples...)
}

// openFDs counts this process's open file descriptors (the budget is the
// RLIMIT_NOFILE, ~20,000 here; two per in-process TCP connection).
func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}
