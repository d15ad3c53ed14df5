"""`engram serve`: the embedded model as an OpenAI-compatible server (see app.py)."""
