package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/proc"
)

// The operations tests run real processes on 127.0.60.x (other tests use
// 127.0.0.x).
func opsIP(i int) string { return fmt.Sprintf("127.0.60.%d", i) }

// freeHostPort returns ip:PORT with a port free now.
func freeHostPort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// opsProc is one supertracker process of an operations test.
type opsProc struct {
	name string
	args []string
	api  string
	env  []string
	log  string
	p    *proc.Proc
}

// start runs the process (again) and registers its cleanup.
func (o *opsProc) start(t *testing.T, bin string) {
	t.Helper()
	p, err := proc.Start(t.Context(), proc.Spec{Binary: bin, Args: o.args, API: o.api, LogPath: o.log, Env: o.env})
	if err != nil {
		t.Fatalf("%s: %v\n%s", o.name, err, tail(o.log))
	}
	o.p = p
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			_ = p.Stop(15 * time.Second)
		}
	})
}

func (o *opsProc) addr() string { return o.p.Addrs()[0] }

func (o *opsProc) peerID() string {
	a := o.addr()
	return a[strings.LastIndex(a, "/p2p/")+len("/p2p/"):]
}

func (o *opsProc) client() *httpapi.Client { return httpapi.NewClient(o.api) }

// stop SIGTERMs the process and fails the test unless it exits 0 in time.
func (o *opsProc) stop(t *testing.T, grace time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := o.p.Stop(grace); err != nil {
		t.Fatalf("%s: SIGTERM: want exit 0, got %v\n%s", o.name, err, tail(o.log))
	}
	return time.Since(start)
}

// tail returns the end of a log file for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// newOpsProc describes a process of command cmd ("supernode", "leaf",
// "node") listening on ip:port (port "0": any) with its API on ip.
func newOpsProc(t *testing.T, dir, name, cmd, ip, port string, extra ...string) *opsProc {
	t.Helper()
	api := freeHostPort(t, ip)
	return &opsProc{name: name, api: api, log: filepath.Join(dir, name+".log"),
		args: append([]string{cmd, "--listen", fmt.Sprintf("/ip4/%s/tcp/%s", ip, port),
			"--data", filepath.Join(dir, name), "--api", api, "--log-level", "info"}, extra...)}
}

// poll calls cond every 100 ms until it reports true or the deadline
// passes; then it fails the test with cond's last explanation.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, why)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(100 * time.Millisecond): // poll interval
		}
	}
}

// opsCID is the i-th test object of a test.
func opsCID(prefix string, i int) string {
	h, _ := mh.Sum([]byte(fmt.Sprintf("supertracker-ops-%s-%d", prefix, i)), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h).String()
}

// httpGet fetches a URL and returns the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads /metrics and parses it as Prometheus text.
func scrape(t *testing.T, api string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, "http://"+api+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on %s: %d %s", api, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics of %s is not Prometheus text: %v\n%s", api, err, body)
	}
	return mfs
}

// metricValue is the value of the series of family name with exactly the
// given labels (counter, gauge, or a histogram's count); ok false if absent.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustMetric(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(mfs, name, labels...)
	if !ok {
		t.Fatalf("metric %s%v missing", name, labels)
	}
	return v
}
