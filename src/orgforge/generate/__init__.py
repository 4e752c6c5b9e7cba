"""Deterministic structure: accounts and their subtrees, density tiers and distributions."""
