// Package priority lowers the CPU and I/O priority of threads and of the
// whole process, for a job's limits (nice, io_nice). On Linux both are
// properties of a thread; a thread made later inherits its creator's.
package priority

import (
	"fmt"
	"strings"
)

// IOClass is an I/O scheduling class.
type IOClass int

// I/O classes, with Linux's numbers.
const (
	IONone       IOClass = 0
	IOBestEffort IOClass = 2
	IOIdle       IOClass = 3
)

// ParseIOClass reads a class name: "idle" or "best-effort".
func ParseIOClass(s string) (IOClass, error) {
	switch strings.TrimSpace(s) {
	case "idle":
		return IOIdle, nil
	case "best-effort":
		return IOBestEffort, nil
	case "":
		return IONone, nil
	}
	return IONone, fmt.Errorf("I/O class %q: use idle or best-effort", s)
}
