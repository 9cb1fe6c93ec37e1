"""Telegram connector: Bot API glue and the pure helpers it relies on."""
