"""Running jobs: the Docker runner, a job's files through the Docker API (``job_files``),
local workspaces of built-in actions, chunked logs, secret masking, the reports and artifacts
a finished job leaves, and what a stage's jobs mean (``stages``)."""
