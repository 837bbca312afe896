"""Approval policy: quorum per role, one vote per person, outcome of a set of votes."""
