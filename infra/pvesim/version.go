package pvesim

import (
	"fmt"
	"strconv"
	"strings"
)

// pveVersion holds what differs between the imitated releases.
type pveVersion struct {
	major   int
	version string // pve-manager version as /version reports it
	release string // "8.2"
	repoid  string

	kernelRelease string // uname -r
	kernelVersion string // uname -v
	qemu          string // running-qemu
	machine       string // running-machine
}

// Defaults per major. PVE 7 used Debian-revision style versions ("7.4-3");
// from 8.0 pve-manager switched to x.y.z.
var majorDefaults = map[int]pveVersion{
	7: {
		major: 7, version: "7.4-3", repoid: "9002ab8a",
		kernelRelease: "5.15.107-2-pve", kernelVersion: "#1 SMP PVE 5.15.107-2 (2023-05-10T09:10Z)",
		qemu: "7.2.0", machine: "pc-i440fx-7.2+pve0",
	},
	8: {
		major: 8, version: "8.2.4", repoid: "faa83925c9641325",
		kernelRelease: "6.8.8-2-pve", kernelVersion: "#1 SMP PREEMPT_DYNAMIC PMX 6.8.8-2 (2024-06-24T09:00Z)",
		qemu: "8.1.5", machine: "pc-i440fx-8.1+pve0",
	},
	9: {
		major: 9, version: "9.0.3", repoid: "025864202ebb6109",
		kernelRelease: "6.14.8-2-pve", kernelVersion: "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)",
		qemu: "10.0.2", machine: "pc-i440fx-10.0+pve0",
	},
}

// parseVersion accepts "7", "8", "9" or a full version string.
func parseVersion(s string) (pveVersion, error) {
	if s == "" {
		s = "8"
	}
	majStr, rest, _ := strings.Cut(s, ".")
	major, err := strconv.Atoi(majStr)
	if err != nil {
		return pveVersion{}, fmt.Errorf("pvesim: bad PVE version %q", s)
	}
	v, ok := majorDefaults[major]
	if !ok {
		return pveVersion{}, fmt.Errorf("pvesim: unsupported PVE major version %d (want 7, 8 or 9)", major)
	}
	if rest != "" {
		v.version = s
	}
	minor, _, _ := strings.Cut(strings.SplitN(v.version, ".", 2)[1], ".")
	minor, _, _ = strings.Cut(minor, "-")
	if _, err := strconv.Atoi(minor); err != nil {
		return pveVersion{}, fmt.Errorf("pvesim: bad PVE version %q", s)
	}
	v.release = fmt.Sprintf("%d.%s", major, minor)
	return v, nil
}

func (v pveVersion) pveversion() string {
	return "pve-manager/" + v.version + "/" + v.repoid
}

func (v pveVersion) kversion() string {
	return "Linux " + v.kernelRelease + " " + v.kernelVersion
}
