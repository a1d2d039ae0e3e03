package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairnbackup/cairn/config"
)

// Hook names.
const (
	HookBefore    = "before"
	HookAfter     = "after"
	HookOnFailure = "on_failure"
)

// hookOutputTail is how much of a failed hook's output its error quotes.
const hookOutputTail = 512

// hookGrace is how long a hook that timed out gets to end after SIGTERM
// before it is killed.
const hookGrace = 5 * time.Second

// hookRun is one hook to run.
type hookRun struct {
	name, command string
	timeout       time.Duration
	env           []string
	stdin         []byte
	output        io.Writer // the hook's standard output and error
}

// runHook runs a hook command with /bin/sh -c in its own process group,
// so that a timeout stops the whole group (SIGTERM, then SIGKILL). Its
// output goes to h.output; a failure quotes the output's last lines.
func runHook(ctx context.Context, h hookRun) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cmd := exec.Command("/bin/sh", "-c", h.command)
	cmd.Env = append(os.Environ(), h.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tail := &tailBuffer{max: hookOutputTail}
	out := io.Writer(tail)
	if h.output != nil {
		out = io.MultiWriter(h.output, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if h.stdin != nil {
		cmd.Stdin = bytes.NewReader(h.stdin)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s hook: start /bin/sh: %w", h.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// The group: the shell and whatever it started.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(hookGrace):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s hook timed out after %v and was stopped; raise hooks.timeout or make the command faster%s", h.name, h.timeout, tail.quote())
		}
		return fmt.Errorf("%s hook stopped: %w", h.name, context.Cause(ctx))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s hook failed (%s)%s", h.name, ee.ProcessState, tail.quote())
		}
		return fmt.Errorf("%s hook: %w", h.name, err)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// quote returns ": output ends with: …" or "".
func (t *tailBuffer) quote() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b[max(0, len(t.b)-t.max):]))
	if s == "" {
		return ""
	}
	return "; its output ends with: " + strings.ReplaceAll(s, "\n", " | ")
}

// hook runs one of j's hooks, if it has it, with the run's facts in the
// environment: CAIRN_JOB, CAIRN_KIND, CAIRN_HOOK, and for after and
// on_failure CAIRN_OUTCOME and CAIRN_SNAPSHOT.
func (rn *Runner) hook(ctx context.Context, j *config.Job, name string, res *Result, stdin []byte) error {
	if j.Hooks == nil {
		return nil
	}
	command := map[string]string{HookBefore: j.Hooks.Before, HookAfter: j.Hooks.After, HookOnFailure: j.Hooks.OnFailure}[name]
	if command == "" {
		return nil
	}
	env := []string{"CAIRN_JOB=" + j.Name, "CAIRN_KIND=" + string(res.Kind), "CAIRN_HOOK=" + name}
	if name != HookBefore {
		env = append(env, "CAIRN_OUTCOME="+res.Outcome)
		if res.Snapshot != nil {
			env = append(env, "CAIRN_SNAPSHOT="+res.Snapshot.String())
		}
	}
	rn.logger().Info("running hook", "job", j.Name, "hook", name)
	return runHook(ctx, hookRun{name: name, command: command, timeout: j.Hooks.TimeoutDuration(), env: env, stdin: stdin, output: rn.HookOutput})
}

// onFailure runs j's on_failure hook after a failed run, with the result
// as JSON on its standard input. It runs even when the run was
// interrupted (within the hook timeout); its own failure is logged.
func (rn *Runner) onFailure(ctx context.Context, j *config.Job, res *Result) {
	if res.Succeeded() {
		return
	}
	event, err := json.Marshal(res)
	if err != nil {
		return
	}
	if err := rn.hook(context.WithoutCancel(ctx), j, HookOnFailure, res, append(event, '\n')); err != nil {
		rn.logger().Error(err.Error(), "job", j.Name)
	}
}
