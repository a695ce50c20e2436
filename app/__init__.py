"""The two ways in: the Streamlit app (app/main.py) and the `onepane` command line (app/cli.py)."""
