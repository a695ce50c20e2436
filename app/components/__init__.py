"""Reusable pieces of the dashboard: filters (sidebar + query params), charts, empty states."""
