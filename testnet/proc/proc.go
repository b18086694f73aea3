package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotReady: the process did not print its addresses or open its API in
// time.
var ErrNotReady = errors.New("proc: process not ready")

// Spec describes one process.
type Spec struct {
	Binary  string
	Args    []string
	API     string        // HOST:PORT of its HTTP API; "" to skip the check
	LogPath string        // stderr goes here ("" discards)
	Ready   time.Duration // how long to wait for readiness (default 30 s)
	Env     []string
}

// Proc is a running process.
type Proc struct {
	spec  Spec
	cmd   *exec.Cmd
	done  chan struct{}
	mu    sync.Mutex
	addrs []string
	err   error
	log   *os.File
}

// Start runs the process and waits until it printed at least one listen
// multiaddr and, if Spec.API is set, its API accepts connections.
func Start(ctx context.Context, spec Spec) (*Proc, error) {
	if spec.Ready == 0 {
		spec.Ready = 30 * time.Second
	}
	cmd := exec.Command(spec.Binary, spec.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), spec.Env...)
	p := &Proc{spec: spec, cmd: cmd, done: make(chan struct{})}
	if spec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		p.log = f
		cmd.Stderr = f
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("proc: starting %s: %w", spec.Binary, err)
	}
	gotAddr := make(chan struct{})
	go p.readStdout(stdout, gotAddr)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		p.closeLog()
		close(p.done)
	}()
	deadline := time.NewTimer(spec.Ready)
	defer deadline.Stop()
	select {
	case <-gotAddr:
	case <-p.done:
		return nil, fmt.Errorf("%w: %s exited: %v (see %s)", ErrNotReady, strings.Join(spec.Args[:1], " "), p.Err(), spec.LogPath)
	case <-deadline.C:
		p.Kill()
		return nil, fmt.Errorf("%w: no listen address within %s", ErrNotReady, spec.Ready)
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	}
	if spec.API != "" {
		for {
			c, err := net.DialTimeout("tcp", spec.API, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-p.done:
				return nil, fmt.Errorf("%w: exited before its API opened: %v", ErrNotReady, p.Err())
			case <-deadline.C:
				p.Kill()
				return nil, fmt.Errorf("%w: API %s not open within %s", ErrNotReady, spec.API, spec.Ready)
			case <-ctx.Done():
				p.Kill()
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond): // poll interval
			}
		}
	}
	return p, nil
}

func (p *Proc) readStdout(r io.Reader, gotAddr chan struct{}) {
	sc := bufio.NewScanner(r)
	once := sync.Once{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "/") && strings.Contains(line, "/p2p/") {
			p.mu.Lock()
			p.addrs = append(p.addrs, line)
			p.mu.Unlock()
			once.Do(func() { close(gotAddr) })
		}
	}
}

func (p *Proc) closeLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
}

// Addrs returns the full listen multiaddrs the process printed.
func (p *Proc) Addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.addrs...)
}

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// API returns the API address.
func (p *Proc) API() string { return p.spec.API }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error once Done is closed.
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Kill sends SIGKILL to the process group and waits for the exit.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills.
// It returns the exit error of a clean exit (nil for status 0).
func (p *Proc) Stop(grace time.Duration) error {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.Err()
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("proc: killed after %s without exiting", grace)
	}
}
