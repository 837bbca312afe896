"""Git: mirrors, refs, commit authors, release versions read from tags and manifests, and
what a push names (``push``)."""
