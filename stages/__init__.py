"""Typer commands, one module per DVC stage; thin over `pipeline/`."""
