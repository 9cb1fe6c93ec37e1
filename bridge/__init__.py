"""A Matrix application-service bridge; Telegram is its first network."""

__version__ = "0.1.0"
