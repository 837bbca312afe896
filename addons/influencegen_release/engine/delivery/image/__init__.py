"""Container images: build, registry push and pull, services run from a digest."""
