package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/metrics"
	"github.com/cowrite/cowrite/storage"
	"github.com/cowrite/cowrite/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// newFeed wraps the Socket.IO broadcaster with the change feed.
func newFeed(cfg *config, inner *api.Broadcaster) *api.Feed {
	return api.NewFeed(inner, &api.FeedOptions{Heartbeat: cfg.EventsHeartbeat, MaxStreams: cfg.MaxEventStreams})
}

// startWebhooks turns the outbox on and starts delivering it when
// --webhook-url is set (call it before anything writes to db); stop closes
// the dispatcher. Without --webhook-url nothing is recorded and stop does
// nothing.
func startWebhooks(cfg *config, db *storage.DB, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	if cfg.WebhookURL == "" {
		return func() {}, nil
	}
	if err := db.EnableOutbox(context.Background(), &storage.OutboxOptions{MaxEvents: cfg.WebhookMaxEvents, MaxBytes: cfg.WebhookMaxBytes}); err != nil {
		return nil, fmt.Errorf("webhook outbox: %w", err)
	}
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "cowrite", Name: "webhook_delivery_latency_seconds",
		Help:    "Time from an event being queued to its receiver's 2xx.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 20), // 10ms … 1.5h
	})
	failed := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cowrite", Name: "webhook_failed_attempts_total",
		Help: "Webhook delivery attempts that failed (error, timeout or non-2xx); each is retried."})
	abandoned := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cowrite", Name: "webhook_abandoned_total",
		Help: "Webhook events given up after --webhook-max-age."})
	d, err := webhook.New(db, webhook.Options{
		URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, Debounce: cfg.WebhookDebounce, Timeout: cfg.WebhookTimeout,
		MaxAge: cfg.WebhookMaxAge, Concurrency: cfg.WebhookParallel, Logger: log,
		OnDelivered: func(l time.Duration) { latency.Observe(l.Seconds()) },
		OnFailed:    failed.Inc,
		OnAbandoned: abandoned.Inc,
	})
	if err != nil {
		return nil, err
	}
	if reg := m.Registry(); reg != nil {
		reg.MustRegister(latency, failed, abandoned,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cowrite", Name: "webhook_queued",
				Help: "Webhook events waiting in the outbox."}, func() float64 { return float64(db.OutboxStats().Queued) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cowrite", Name: "webhook_queued_bytes",
				Help: "Bytes of webhook events waiting in the outbox."}, func() float64 { return float64(db.OutboxStats().Bytes) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cowrite", Name: "webhook_dropped_total",
				Help: "Webhook events dropped because the outbox was full."}, func() float64 { return float64(db.OutboxStats().Dropped) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "cowrite", Name: "webhook_delivered_total",
				Help: "Webhook events delivered (2xx)."}, func() float64 { return float64(d.Stats().Delivered) }),
		)
	}
	d.Start()
	log.Info("webhooks on", "url", cfg.WebhookURL, "debounce", cfg.WebhookDebounce, "signed", cfg.WebhookSecret != "")
	return d.Close, nil
}
