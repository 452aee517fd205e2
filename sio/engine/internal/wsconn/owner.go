//go:build !race

package wsconn

// checked: race builds assert ownership and state transitions (see
// owner_race.go); this build does not.
const checked = false

// role is the ownership record of one concurrency role; it is checked in
// race builds only (owner_race.go) and costs nothing here.
type role struct{ name string }

func (*role) acquire() {}
func (*role) release() {}
func (*role) check()   {}
