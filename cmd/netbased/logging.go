package main

import (
	"io"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Names of the per-stage loggers (zap's Named).
const (
	logCapture = "capture"
	logEmit    = "emit"
	logMetrics = "metrics"
	logDaemon  = "daemon"
)

// Log sampling: per message and second, the first logSampleFirst entries
// are written, then one in logSampleThereafter. Errors that repeat (a full
// disk, a broken output) therefore cannot flood the journal.
const (
	logSampleFirst      = 5
	logSampleThereafter = 100
)

// newLogger returns the daemon's logger writing to w at level (which may be
// changed while running): human-readable console lines when w is a
// terminal, JSON otherwise (systemd's journal, files). Nothing is logged
// per packet; repeated messages are sampled.
func newLogger(level zap.AtomicLevel, w io.Writer) *zap.Logger {
	var enc zapcore.Encoder
	if isTerminal(w) {
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(cfg)
	} else {
		cfg := zap.NewProductionEncoderConfig()
		cfg.TimeKey = "ts"
		cfg.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		cfg.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(w), level)
	core = zapcore.NewSamplerWithOptions(core, time.Second, logSampleFirst, logSampleThereafter)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(w)))
}
