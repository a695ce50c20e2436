"""onepane's base package: settings, errors, the store and the metric layer. Imports nothing else of ours."""
