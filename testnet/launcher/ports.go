package launcher

import (
	"fmt"
	"net"
)

// nodeIP returns the loopback address of node i: 127.0.0.(i+2).
func nodeIP(i int) (string, error) {
	if i < 0 || i > 250 {
		return "", fmt.Errorf("launcher: node index %d out of 127.0.0.2–127.0.0.252", i)
	}
	return fmt.Sprintf("127.0.0.%d", i+2), nil
}

// freePort asks the kernel for a free TCP port on ip.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
