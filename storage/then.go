package storage

// AppendThen is Append with a callback instead of a waiter: then is called
// exactly once with the append's outcome (what the returned Commit's Err
// reports), right after the Commit is done — by the committer goroutine,
// after the batch's fsync, or by AppendThen itself before it returns if the
// DB is closed. It saves the goroutine a caller would otherwise need to
// wait on Err. then runs on the committer, ahead of the rest of the batch's
// callbacks and the next batch: it must be quick and must not block (a
// send on a channel with room, say); it may read the DB but must not wait
// for another write.
func (db *DB) AppendThen(a Append, then func(error)) *Commit {
	c := newCommit()
	c.then = then
	return db.queueJob(job{a: a, c: c})
}
