"""Services hold the rules. They take and return plain values, never Telegram objects."""
