package access

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultRepository returns the local repository used when none is named,
// with its generated key file: in the user's data folder
// ($XDG_DATA_HOME/cairn/repository, or ~/.local/share/…) with the key in
// the config folder ($XDG_CONFIG_HOME/cairn/default.key, or ~/.config/…).
// Root without a home folder (a systemd service, env -i) uses
// /var/lib/cairn/repository and /etc/cairn/default.key.
func DefaultRepository() (Target, error) {
	return defaultRepository(os.Getenv, os.Geteuid())
}

func defaultRepository(getenv func(string) string, euid int) (Target, error) {
	home := getenv("HOME")
	data, conf := getenv("XDG_DATA_HOME"), getenv("XDG_CONFIG_HOME")
	if data == "" && home != "" {
		data = filepath.Join(home, ".local", "share")
	}
	if conf == "" && home != "" {
		conf = filepath.Join(home, ".config")
	}
	if euid == 0 {
		if data == "" {
			data = "/var/lib"
		}
		if conf == "" {
			conf = "/etc"
		}
	}
	if data == "" || conf == "" {
		return Target{}, fmt.Errorf("find a folder for the default repository: there is no home folder; name a repository with -r (or CAIRN_REPOSITORY)")
	}
	return Target{
		Addr:      filepath.Join(data, "cairn", "repository"),
		IsDefault: true,
		KeyFile:   filepath.Join(conf, "cairn", "default.key"),
	}, nil
}
