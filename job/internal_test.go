package job

import (
	"testing"

	"github.com/cairnbackup/cairn/config"
)

// The job's upload_rate and the caller's --limit-upload: the lower holds,
// and either alone applies.
func TestUploadRate(t *testing.T) {
	job := &config.Limits{UploadRate: "1MiB/s"}
	for _, c := range []struct {
		caller int64
		l      *config.Limits
		want   int64
	}{
		{0, nil, 0},
		{0, job, 1 << 20},
		{512 << 10, nil, 512 << 10},
		{512 << 10, job, 512 << 10},
		{4 << 20, job, 1 << 20},
		{4 << 20, &config.Limits{}, 4 << 20},
	} {
		if got := uploadRate(c.caller, c.l); got != c.want {
			t.Errorf("uploadRate(%d, %+v) = %d, want %d", c.caller, c.l, got, c.want)
		}
	}
}
