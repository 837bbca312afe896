"""n8n targets: workflow validation and normalisation, secret scan, the public API client."""
