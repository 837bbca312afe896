"""Running jobs: job workspaces, the Docker runner, chunked logs and secret masking."""
