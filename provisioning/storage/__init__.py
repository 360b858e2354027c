"""The Azure Storage adapter: blobs, the work queue, job records, progress, presence, report blobs."""
