"""Collectors: each turns one kind of source into rows of one raw table. Imports metrics, never app."""
