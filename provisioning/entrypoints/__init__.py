"""How the product is started: the Functions triggers, the HTTP API, the CLI, the local host, the wiring."""
