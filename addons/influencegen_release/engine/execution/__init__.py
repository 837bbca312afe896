"""Running jobs: job workspaces, the Docker runner, chunked logs, secret masking, the
reports and artifacts a finished job leaves, and what a stage's jobs mean (``stages``)."""
