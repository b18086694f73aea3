package runner

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuSampler computes the machine's idle CPU fraction between two calls
// from /proc/stat.
type cpuSampler struct{ idle, total uint64 }

// free returns the idle fraction since the last call (1 on the first call
// or where /proc/stat is not readable).
func (c *cpuSampler) free() float64 {
	idle, total, err := readProcStat()
	if err != nil {
		return 1
	}
	di, dt := idle-c.idle, total-c.total
	first := c.total == 0
	c.idle, c.total = idle, total
	if first || dt == 0 {
		return 1
	}
	return float64(di) / float64(dt)
}

func readProcStat() (idle, total uint64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, fmt.Errorf("empty /proc/stat")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", sc.Text())
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total, nil
}

// memFree returns MemAvailable/MemTotal from /proc/meminfo (1 if unknown).
func memFree() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 1
	}
	return avail / total
}
