"""Command line: the finetune-bot sub-commands other than run and console."""
