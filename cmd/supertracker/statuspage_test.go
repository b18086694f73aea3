package main

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath finds a headless-capable Chromium (Debian's package is
// "chromium").
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs headless Chromium with args (the URL last) in its own
// process group with a home of its own, then makes sure that no process of
// it is left: the group is killed, and its crash handlers (which start
// sessions of their own) are waited for, and killed if they linger.
func runChromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + filepath.Join(home, "profile")}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers, if any are left
	}
	reapStragglers(t, home)
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// reapStragglers waits up to 10 s for every process whose command line
// names dir to exit, then kills what is left.
func reapStragglers(t *testing.T, dir string) {
	t.Helper()
	find := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(string(b), dir) {
				if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
					continue // a zombie: already dead
				}
				pids = append(pids, pid)
			}
		}
		return pids
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := find()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Logf("killed %d chromium helper(s) that outlived the browser", len(left))
			return
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(100 * time.Millisecond): // poll interval
		}
	}
}

// Acceptance 3: the status page of a real node, loaded in headless
// Chromium, shows what a person looks for: the role, the peer ID, the
// election's criteria against their thresholds, and a recent lookup.
func TestStatusPageInChromium(t *testing.T) {
	bin := binary(t)
	browser := chromiumPath()
	if browser == "" {
		t.Skip("chromium not installed: `apt-get install chromium` (Debian) to run the status page test")
	}
	dir := t.TempDir()
	n := newOpsProc(t, dir, "node", "node", opsIP(61), "0", "--role", "supernode", "--preset", "local")
	n.start(t, bin)
	obj := opsCID("statuspage", 1)
	c := n.client()
	if _, err := c.Announce(t.Context(), []string{obj}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Lookup(t.Context(), obj, 0)
	if err != nil || len(res.Holders) != 1 {
		t.Fatalf("lookup: %v %+v", err, res)
	}
	// Wait until the election has measured the uptime, so the page shows
	// a measured value against its threshold.
	poll(t, 20*time.Second, "uptime measured", func() (bool, string) {
		st, err := c.Status(t.Context())
		if err != nil {
			return false, err.Error()
		}
		var el struct {
			Criteria []struct {
				Name  string `json:"name"`
				Known bool   `json:"known"`
			} `json:"criteria"`
		}
		if err := electionJSON(st.Election, &el); err != nil {
			return false, err.Error()
		}
		for _, cr := range el.Criteria {
			if cr.Name == "uptime_current" && cr.Known {
				return true, ""
			}
		}
		b, _ := json.Marshal(st.Election)
		return false, string(b)
	})
	url := "http://" + n.api + "/"

	dom := runChromium(t, browser, "--dump-dom", url)
	text := visibleText(dom)
	checks := []struct{ what, re string }{
		{"the role", `supertracker supernode serving`},
		{"the peer ID", `Peer ID ` + regexp.QuoteMeta(n.peerID())},
		{"a listen address", regexp.QuoteMeta(n.addr())},
		{"a criterion row against its threshold", `uptime_current \S+ [≥<] 10s (ok|no)`},
		{"the reachability criterion", `reachable \S+ = yes (ok|no|unknown)`},
		{"the election summary", `Role supernode for .*eligible: (yes|no) · score \d\.\d\d`},
		{"the recent lookup", `\d\d:\d\d:\d\d API ` + regexp.QuoteMeta(obj) + ` 1 [\d.]+ ms ok`},
		{"the records held", `records held 1\b`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.re).MatchString(text) {
			t.Errorf("the page does not show %s (/%s/):\n%s", c.what, c.re, text)
		}
	}

	// A screenshot, for a person to look at: kept in
	// $SUPERTRACKER_SCREENSHOT_DIR when set.
	shotDir := os.Getenv("SUPERTRACKER_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	shot := filepath.Join(shotDir, "statuspage-node.png")
	runChromium(t, browser, "--window-size=1200,1500", "--hide-scrollbars", "--screenshot="+shot, url)
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (%d bytes)", shot, err, sizeOf(fi))
	}
	t.Logf("status page: %d characters of text, screenshot %s (%d bytes)", len(text), shot, fi.Size())
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

var (
	reTags  = regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`)
	reSpace = regexp.MustCompile(`\s+`)
)

// visibleText is the page's text as a person reads it: tags dropped,
// entities decoded, white space collapsed.
func visibleText(dom string) string {
	if i := strings.Index(dom, "<body"); i >= 0 {
		dom = dom[i:]
	}
	s := reTags.ReplaceAllString(dom, " ")
	return strings.TrimSpace(reSpace.ReplaceAllString(html.UnescapeString(s), " "))
}
