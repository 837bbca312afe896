"""Deploying to targets, one package per environment kind, and parity across environments."""
