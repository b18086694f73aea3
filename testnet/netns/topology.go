package netns

import (
	"fmt"
	"strings"
)

// The Internet segment: a bridge in its own namespace, 1.2.0.0/24.
const (
	internetPrefix = "1.2.0."
	internetMask   = "/24"
)

// Internet is a public segment: a Linux bridge in its own namespace.
// Public hosts and home routers each plug a veth pair into it.
type Internet struct {
	NS  NS
	lab *Lab
}

// NewInternet makes the public segment.
func (l *Lab) NewInternet() (*Internet, error) {
	ns, err := l.NewNS("inet")
	if err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "br0", "up"},
	} {
		if err := ns.ip(args...); err != nil {
			return nil, err
		}
	}
	return &Internet{NS: ns, lab: l}, nil
}

// nextIP hands out the next public address and its host number.
func (in *Internet) nextIP() (string, int, error) {
	in.lab.mu.Lock()
	defer in.lab.mu.Unlock()
	if in.lab.nextPub >= 240 {
		return "", 0, fmt.Errorf("netns: Internet segment full")
	}
	in.lab.nextPub++
	n := 10 + in.lab.nextPub
	return fmt.Sprintf("%s%d", internetPrefix, n), n, nil
}

// plug connects namespace ns to the segment with interface ifname at ip.
func (in *Internet) plug(ns NS, ifname, ip string, n int) error {
	port := fmt.Sprintf("p%d", n) // its port on the bridge
	for _, s := range []struct {
		ns   NS
		args []string
	}{
		{ns, []string{"link", "add", ifname, "type", "veth", "peer", "name", port, "netns", in.NS.Name}},
		{in.NS, []string{"link", "set", port, "master", "br0", "up"}},
		{ns, []string{"addr", "add", ip + internetMask, "dev", ifname}},
		{ns, []string{"link", "set", ifname, "up"}},
	} {
		if err := s.ns.ip(s.args...); err != nil {
			return err
		}
	}
	return nil
}

// Host is a machine with a public address on the segment.
type Host struct {
	NS NS
	IP string
}

// AddHost adds a public host in its own namespace.
func (in *Internet) AddHost(name string) (*Host, error) {
	ip, n, err := in.nextIP()
	if err != nil {
		return nil, err
	}
	ns, err := in.lab.NewNS(name)
	if err != nil {
		return nil, err
	}
	return &Host{NS: ns, IP: ip}, in.plug(ns, "eth0", ip, n)
}

// NATKind is how a home router maps its LAN's connections.
type NATKind int

const (
	// PortPreserving: nftables `masquerade`; Linux keeps the source port
	// when it is free, so a host's mapping is the same towards every
	// destination (endpoint-independent mapping, "cone"). Filtering is
	// endpoint-dependent (conntrack), as on most home routers.
	PortPreserving NATKind = iota
	// PortRandom: `masquerade fully-random`; every connection gets a random
	// source port (endpoint-dependent mapping, "symmetric" NAT), as on some
	// carrier-grade and enterprise NATs.
	PortRandom
)

func (k NATKind) String() string {
	if k == PortRandom {
		return "port-randomizing"
	}
	return "port-preserving"
}

// Home is a home network: a router that masquerades its LAN behind one
// public address, and one host on the LAN.
type Home struct {
	Router NS
	Host   NS
	WANIP  string // the router's public address
	LANIP  string // the host's private address (10.N.0.2)
	Kind   NATKind
}

// NewHome plugs a NAT router into the Internet segment with a host behind
// it on 10.n.0.0/24 (n in 1..250).
func (l *Lab) NewHome(in *Internet, n int, kind NATKind) (*Home, error) {
	if n < 1 || n > 250 {
		return nil, fmt.Errorf("netns: home %d: want 1..250", n)
	}
	wan, pn, err := in.nextIP()
	if err != nil {
		return nil, err
	}
	router, err := l.NewNS(fmt.Sprintf("r%d", n))
	if err != nil {
		return nil, err
	}
	host, err := l.NewNS(fmt.Sprintf("h%d", n))
	if err != nil {
		return nil, err
	}
	if err := in.plug(router, "wan", wan, pn); err != nil {
		return nil, err
	}
	lan := fmt.Sprintf("10.%d.0.", n)
	steps := []struct {
		ns   NS
		args []string
	}{
		{router, []string{"link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", host.Name}},
		{router, []string{"addr", "add", lan + "1/24", "dev", "lan"}},
		{router, []string{"link", "set", "lan", "up"}},
		{host, []string{"addr", "add", lan + "2/24", "dev", "eth0"}},
		{host, []string{"link", "set", "eth0", "up"}},
		{host, []string{"route", "add", "default", "via", lan + "1"}},
	}
	for _, s := range steps {
		if err := s.ns.ip(s.args...); err != nil {
			return nil, err
		}
	}
	if _, err := router.Run(bg(), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return nil, err
	}
	masq := "masquerade"
	if kind == PortRandom {
		masq = "masquerade fully-random"
	}
	// A home router: its LAN masqueraded behind the WAN address; nothing
	// unsolicited from the WAN gets in, and it is dropped, not refused
	// (a refusal would abort a hole punch's early SYN).
	rules := strings.Join([]string{
		"table ip nat {",
		"  chain postrouting {",
		"    type nat hook postrouting priority srcnat; policy accept;",
		`    oifname "wan" ` + masq,
		"  }",
		"}",
		"table inet filter {",
		"  chain input {",
		"    type filter hook input priority filter; policy accept;",
		`    iifname "wan" ct state new drop`,
		"  }",
		"  chain forward {",
		"    type filter hook forward priority filter; policy accept;",
		`    iifname "wan" ct state new drop`,
		"  }",
		"}",
	}, "\n") + "\n"
	cmd := router.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("netns: nft rules in %s: %w: %s", router.Name, err, out)
	}
	return &Home{Router: router, Host: host, WANIP: wan, LANIP: lan + "2", Kind: kind}, nil
}
