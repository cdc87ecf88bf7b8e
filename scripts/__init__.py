"""Developer entry points run with `python -m scripts.<name>` (`make dev` runs `scripts.dev`)."""
