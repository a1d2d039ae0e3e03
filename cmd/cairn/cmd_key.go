package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/crypto"
)

type keyOptions struct {
	newPasswordFile string
	newKeyFile      string
	force           bool
}

func newKeyCommand(g *globalOptions) *cli.Command {
	var opts keyOptions
	newFlags := []cli.Flag{
		&cli.StringFlag{Name: "new-password-file", Destination: &opts.newPasswordFile, Usage: "read the new password from `FILE`"},
		&cli.StringFlag{Name: "new-key-file", Destination: &opts.newKeyFile, Usage: "use the 64 hex digits in `FILE` as the new key"},
	}
	return &cli.Command{
		Name:  "key",
		Usage: "manage the passwords and keys that open the repository",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list key files", Action: func(c *cli.Context) error { return runKeyList(c, g) }},
			{Name: "add", Usage: "add a password or key", Flags: newFlags, Action: func(c *cli.Context) error { return runKeyAdd(c, g, opts, false) }},
			{Name: "passwd", Usage: "replace the key in use with a new password or key", Flags: newFlags,
				Action: func(c *cli.Context) error { return runKeyAdd(c, g, opts, true) }},
			{Name: "remove", Usage: "remove a key file by id prefix", ArgsUsage: "ID",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "force", Destination: &opts.force, Usage: "allow removing the key in use"}},
				Action: func(c *cli.Context) error { return runKeyRemove(c, g, opts) }},
		},
	}
}

func runKeyList(c *cli.Context, g *globalOptions) error {
	r, err := g.openRepo(c.Context)
	if err != nil {
		return err
	}
	defer r.Close()
	keys, err := r.Keys(c.Context)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(keys)
	}
	g.printf(" %-10s %-9s %-20s %-15s %s\n", "ID", "KDF", "CREATED", "USER", "HOST")
	for _, k := range keys {
		mark := " "
		if k.Current {
			mark = "*"
		}
		g.printf("%s%-10s %-9s %-20s %-15s %s\n", mark, k.ID.Short(), k.KDF, k.Created.Local().Format(time.DateTime), k.User, k.Host)
	}
	return nil
}

func runKeyAdd(c *cli.Context, g *globalOptions, opts keyOptions, replace bool) error {
	r, err := g.openRepo(c.Context)
	if err != nil {
		return err
	}
	defer r.Close()
	creds, err := g.acc.NewCredentials(opts.newPasswordFile, opts.newKeyFile)
	if err != nil {
		return err
	}
	if replace {
		old := r.KeyID()
		id, err := r.ChangePassword(c.Context, creds, crypto.KDFParams{})
		if err != nil {
			return err
		}
		g.printf("added key %s and removed key %s\n", id.Short(), old.Short())
		return nil
	}
	id, err := r.AddKey(c.Context, creds, crypto.KDFParams{})
	if err != nil {
		return err
	}
	g.printf("added key %s\n", id.Short())
	return nil
}

func runKeyRemove(c *cli.Context, g *globalOptions, opts keyOptions) error {
	if c.NArg() != 1 {
		return fmt.Errorf("key remove takes one key id (see `cairn key list`)")
	}
	r, err := g.openRepo(c.Context)
	if err != nil {
		return err
	}
	defer r.Close()
	id, err := r.RemoveKey(c.Context, c.Args().First(), opts.force)
	if err != nil {
		return err
	}
	g.printf("removed key %s\n", id.Short())
	return nil
}
