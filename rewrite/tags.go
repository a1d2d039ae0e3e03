package rewrite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cairnbackup/cairn/repo"
)

// TagChange says how to change tags: Set replaces them all (when
// Replace; an empty Set removes every tag), then Add adds and Remove
// removes.
type TagChange struct {
	Replace     bool
	Set         []string
	Add, Remove []string
}

// check refuses a change that does nothing or mixes Set with the others,
// and tags that snapshot filters could not name.
func (c TagChange) check() error {
	if !c.Replace && len(c.Add) == 0 && len(c.Remove) == 0 {
		return errors.New("say what to change: --add, --remove or --set")
	}
	if c.Replace && (len(c.Add) > 0 || len(c.Remove) > 0) {
		return errors.New("--set replaces every tag: give it without --add and --remove")
	}
	for _, t := range slices.Concat(c.Set, c.Add, c.Remove) {
		if t == "" || strings.ContainsAny(t, ",\n") {
			return fmt.Errorf("tag %q: tags are non-empty, without commas or newlines", t)
		}
	}
	return nil
}

// apply returns the tags of a snapshot that had tags.
func (c TagChange) apply(tags []string) []string {
	var out []string
	if c.Replace {
		tags = c.Set
	}
	for _, t := range slices.Concat(tags, c.Add) {
		if !slices.Contains(out, t) && !slices.Contains(c.Remove, t) {
			out = append(out, t)
		}
	}
	return out
}

// Tags changes the tags of snaps: each snapshot whose tags change is
// written anew with the same tree and its other fields, recording its
// original, and the old one removed. Snapshots whose tags stay the same
// are left alone. With dryRun nothing is written. The changes made
// before an error are returned with it.
func Tags(ctx context.Context, r Repo, snaps []*repo.Snapshot, c TagChange, dryRun bool) ([]Changed, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	var out []Changed
	for _, s := range snaps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		tags := c.apply(s.Tags)
		if slices.Equal(tags, s.Tags) || len(tags) == 0 && len(s.Tags) == 0 {
			continue
		}
		ch := Changed{Old: s.ID(), Tags: tags}
		if !dryRun {
			ns := copySnapshot(s)
			ns.Tags = tags
			if err := replace(ctx, r, s, ns, false, &ch); err != nil {
				return out, err
			}
		}
		out = append(out, ch)
	}
	return out, nil
}
