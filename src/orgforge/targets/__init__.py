"""Targets: where a world goes (files, Salesforce, Asana). A target knows its API and limits."""
