package config_test

import (
	"path/filepath"
	"testing"

	"github.com/cairnbackup/cairn/config"
)

// The annotated examples in examples/ stay valid.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		c, err := config.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(c.Jobs) == 0 {
			t.Errorf("%s has no jobs", f)
		}
		for _, j := range c.Jobs {
			if j.Schedule == "" {
				t.Errorf("%s: job %s has no schedule", f, j.Name)
			}
		}
	}
}
