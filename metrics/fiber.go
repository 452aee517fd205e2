package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// httpMethods are the methods recorded by name; others count as "OTHER".
var httpMethods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH",
	"DELETE": "DELETE", "OPTIONS": "OPTIONS",
}

// FiberHandler serves the metrics from a fiber route:
//
//	app.Get("/metrics", m.FiberHandler())
//
// For a nil *Metrics it answers 404.
func (m *Metrics) FiberHandler() fiber.Handler {
	return adaptor.HTTPHandler(m.Handler())
}

// FiberMiddleware counts every request by matched route pattern, method and
// status, and times it. Install it first: app.Use(m.FiberMiddleware()).
// When a handler returns an error, the status recorded is that of a
// *fiber.Error, else 500 — what fiber's default error handler sends.
// For a nil *Metrics it only calls the next handler.
func (m *Metrics) FiberMiddleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if m == nil {
			return c.Next()
		}
		start := time.Now()
		self := c.Route()
		err := c.Next()
		route := "unmatched"
		if r := c.Route(); r != self && r.Path != "" {
			route = r.Path
		}
		method, ok := httpMethods[c.Method()]
		if !ok {
			method = "OTHER"
		}
		status := c.Response().StatusCode()
		if err != nil {
			status = fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status = fe.Code
			}
		}
		m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return err
	}
}
