package frontend

import (
	"testing"

	"go.uber.org/goleak"
)

// fasthttp starts one process-wide goroutine that refreshes the Date header;
// it is not ours and never exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
