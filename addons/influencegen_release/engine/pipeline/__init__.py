"""The pipeline format: YAML with line numbers, validation into a normalised spec."""
