package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/schedule"
)

const configYAML = `
jobs:
  - name: etc
    sources: [/etc]
    schedule: "30 2 * * *"
    catch_up: true
    random_delay: 10m
    check:
      schedule: "@weekly"
  - name: adhoc
    sources: [/srv]
  - name: db
    sources: [/var/backups/db]
    schedule: "@daily"
    repository:
      locations:
        - url: /srv/db-backups
daemon:
  concurrency: 2
  retry:
    attempts: 5
    base_delay: 30s
`

func TestTasksFromConfig(t *testing.T) {
	c, err := config.Parse("cairn.yaml", []byte(configYAML))
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		job   string
		check bool
	}
	var calls []call
	tasks, err := schedule.Tasks(c, func(_ context.Context, job string, check bool) error {
		calls = append(calls, call{job, check})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, spec string
		catchUp    bool
		delay      time.Duration
	}{
		{"etc", "30 2 * * *", true, 10 * time.Minute},
		{"etc/check", "@weekly", true, 10 * time.Minute},
		{"adhoc", "", false, 0},
		{"db", "@daily", false, 0},
	}
	if len(tasks) != len(want) {
		t.Fatalf("%d tasks, want %d", len(tasks), len(want))
	}
	for i, w := range want {
		tk := tasks[i]
		if tk.Name != w.name || tk.Spec.String() != w.spec || tk.CatchUp != w.catchUp || tk.RandomDelay != w.delay || tk.Key != tasks[0].Key && tk.Name != "db" {
			t.Errorf("task %d: %+v, want %+v", i, tk, w)
		}
		if err := tk.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if tasks[3].Key == tasks[0].Key || tasks[3].Key != schedule.RepositoryKey(*c.Jobs[2].Repository) {
		t.Errorf("a job with a repository of its own has key %q, like the others' %q", tasks[3].Key, tasks[0].Key)
	}
	if calls[0] != (call{"etc", false}) || calls[1] != (call{"etc", true}) || calls[2] != (call{"adhoc", false}) {
		t.Errorf("runner calls %v", calls)
	}

	o := schedule.ConfigOptions(c.Daemon)
	if o.Concurrency != 2 || o.Attempts != 5 || o.BaseDelay != 30*time.Second || o.MaxDelay != time.Hour {
		t.Errorf("options %+v", o)
	}
	o = schedule.ConfigOptions(nil)
	if o.Concurrency != 0 || o.Attempts != config.DefaultAttempts || o.BaseDelay != config.DefaultBaseDelay || o.MaxDelay != config.DefaultMaxDelay {
		t.Errorf("default options %+v", o)
	}
}
