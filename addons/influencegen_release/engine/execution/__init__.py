"""Running jobs: job workspaces, the Docker runner, chunked logs, secret masking and the
reports and artifacts a finished job leaves."""
