"""Git: mirrors, refs, commit authors, and release versions read from tags and manifests."""
