package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/daemon"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/metrics"
)

func newDaemonCommand(g *globalOptions) *cli.Command {
	var metricsAddr string
	return &cli.Command{
		Name:  "daemon",
		Usage: "run every job and check of the configuration on its schedule",
		Description: `Runs in the foreground (under systemd, or any supervisor) until SIGTERM or
SIGINT: each job's backup and check on its schedule, at most one run per
repository at a time and daemon.concurrency overall, failures retried with
exponential backoff and jitter (daemon.retry), a run missed while the daemon
was down run once at start when the job says catch_up. SIGHUP reloads the
configuration; running jobs finish as they started. SIGTERM stops running
snapshots safely (nothing half-written is left under a real name) and exits.

With --metrics-addr (or daemon.metrics_addr), Prometheus metrics are served
at http://ADDR/metrics: each job's last success, duration, bytes added,
failures, and its last check and drill. Every run is in the repository's
history (status shows it) and the audit log.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metrics-addr", Destination: &metricsAddr, Usage: "serve Prometheus metrics at `HOST:PORT` (default: daemon.metrics_addr)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("daemon takes no arguments")
			}
			return runDaemon(c.Context, g, metricsAddr)
		},
	}
}

func runDaemon(ctx context.Context, g *globalOptions, metricsAddr string) error {
	if g.config == nil {
		return fmt.Errorf("no configuration file: give --config, set CAIRN_CONFIG, or write %s", config.DefaultPath(os.Getenv, os.Geteuid()))
	}
	level := slog.LevelInfo
	if g.quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	audits := &auditLogs{}
	defer audits.close()
	m := metrics.New()
	host, _ := os.Hostname()
	d, err := daemon.New(ctx, g.config, daemon.Options{
		NewRunner: func(cfg *config.Config) *job.Runner {
			rn := g.runnerIn(cfg, audits.open(cfg, logger))
			rn.Logger, rn.ThreadLimits, rn.Progress = logger, true, nil
			rn.Warn = func(path string, err error) {
				logger.Warn("unreadable, left out", "path", path, "err", unwrapPathError(err))
			}
			rn.Notice = func(path, msg string) { logger.Info(msg, "path", path) }
			return rn
		},
		Metrics: m, Logger: logger, Host: host,
	})
	if err != nil {
		return err
	}
	addr := metricsAddr
	if addr == "" && g.config.Daemon != nil {
		addr = g.config.Daemon.MetricsAddr
	}
	if addr != "" {
		stop, err := serveMetrics(addr, m, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			cfg, err := config.Load(g.configFile)
			if err != nil {
				logger.Error("reload: the configuration is not valid; keeping the one running", "err", err)
				continue
			}
			if err := d.Reload(ctx, cfg); err != nil {
				logger.Error("reload", "err", err)
				continue
			}
			logger.Info("configuration reloaded", "file", g.configFile, "jobs", len(cfg.Jobs))
		}
	}()
	logger.Info("daemon started", "config", g.configFile, "jobs", len(g.config.Jobs))
	if err := d.Run(ctx); err != nil {
		return err
	}
	logger.Info("daemon stopped")
	return nil
}

// serveMetrics listens on addr (failing at once when it cannot) and
// serves the metrics at /metrics until stop.
func serveMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// auditLogs keeps the audit log files the daemon's configurations opened.
type auditLogs struct {
	mu     sync.Mutex
	closes []func()
}

// open opens cfg's audit log; a failure is logged, and runs go on
// without one.
func (a *auditLogs) open(cfg *config.Config, logger *slog.Logger) *slog.Logger {
	var path string
	if cfg.Monitoring != nil {
		path = cfg.Monitoring.AuditLog
	}
	l, closeFn, err := openAuditLog(path)
	if err != nil {
		logger.Error("runs go on without an audit log", "err", err)
		return nil
	}
	a.mu.Lock()
	a.closes = append(a.closes, closeFn)
	a.mu.Unlock()
	return l
}

func (a *auditLogs) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.closes {
		c()
	}
}
