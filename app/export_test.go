package app

// SetRecordingSweepBatch makes the sweeper check n old objects per read,
// so that a test crosses batch boundaries with a handful of objects.
func SetRecordingSweepBatch(s *RecordingSweeper, n int) { s.batch = n }
