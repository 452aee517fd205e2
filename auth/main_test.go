package auth

import (
	"testing"

	"go.uber.org/goleak"
)

// fasthttp (under fiber's app.Test) starts one process-wide goroutine that
// refreshes its Date header forever; it is not ours to stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
