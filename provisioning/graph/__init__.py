"""The Microsoft Graph adapter: tokens, the client, ``$batch``, pacing, retries, paths, failures, directory reads."""
