// Package audiostore keeps call recordings (ports.AudioStore) on the local
// filesystem (FS, the default) or in S3-compatible object storage (S3),
// addressed by the SHA-256 of their content.
//
// Both check the content against its key while it streams through, and a
// Put that fails for any reason — a wrong hash or size, a broken reader, a
// full disk, an object store answering 500 — leaves nothing under the key,
// nor changes what was already there: the object is written aside and moved
// under its key only once it is complete and verified (a rename on disk, a
// server-side copy in S3).
//
// The service configures the store from its environment (cmd parses it into
// a Config):
//
//	CALLCONNECT_RECORDINGS_DIR   the FS root; default .data/recordings
//	CALLCONNECT_S3_ENDPOINT      host[:port] of the S3 API; with the bucket, selects S3
//	CALLCONNECT_S3_BUCKET        the bucket; with the endpoint, selects S3
//	CALLCONNECT_S3_ACCESS_KEY    the access key id
//	CALLCONNECT_S3_SECRET_KEY    the secret access key
//	CALLCONNECT_S3_REGION        the bucket's region; empty: asked of the server
//	CALLCONNECT_S3_USE_SSL       true for https; false for plain http (a MinIO beside the service, tests)
//	CALLCONNECT_S3_PREFIX        the folder of the recordings in the bucket, e.g. "recordings/"
//
// Setting only one of CALLCONNECT_S3_ENDPOINT and CALLCONNECT_S3_BUCKET is a
// mistake that New reports, rather than falling back to the filesystem.
package audiostore
