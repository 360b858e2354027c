"""The chaos soak: the pipeline under Graph faults, storage faults, killed workers and duplicate chunks."""
