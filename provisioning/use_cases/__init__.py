"""The use cases: check a file, apply a chunk, fan a file out, finish a job, the nightly sync."""
