"""`krayne-bot shell`: the terminal front end, a thin adapter over the same Bolt app (like Hubot's
Shell adapter). Only the CLI entry point imports it; no product module does."""
